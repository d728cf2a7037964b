//! `/events`: stored webhook events, and redelivery.

use http::Method;

use super::model::*;
use super::page::Page;
use super::{Error, Parts, RestConfig, TelerRequest, parse_page, validate};

/// `GET /events`: a page of webhook events.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListEvents {
    /// Filter by call.
    pub call_id: Option<String>,
    /// Filter by type, e.g. `call.completed`.
    pub event_type: Option<String>,
    /// Occurred after (RFC 3339).
    pub occurred_after: Option<String>,
    /// Filter by delivery status.
    pub delivery_status: Option<DeliveryStatus>,
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl Default for ListEvents {
    fn default() -> Self {
        Self::new()
    }
}

impl ListEvents {
    /// No filters, `limit` 50.
    pub fn new() -> Self {
        ListEvents {
            call_id: None,
            event_type: None,
            occurred_after: None,
            delivery_status: None,
            limit: Some(50),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListEvents {
    call_id: String,
    event_type: String,
    occurred_after: String,
    delivery_status: DeliveryStatus
});
paged!(ListEvents => Event);

impl TelerRequest for ListEvents {
    type Response = Page<Event>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, "/events".into());
        p.q("call_id", self.call_id.as_ref())
            .q("type", self.event_type.as_ref())
            .q("occurred_after", self.occurred_after.as_ref())
            .q("delivery_status", self.delivery_status.as_ref())
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<Event>, Error> {
        parse_page(resp)
    }
}

by_id!(
    /// `GET /events/{id}`.
    RetrieveEvent, event_id, GET, "/events/{}", Event, parse_object
);
by_id!(
    /// `POST /events/{id}/redeliver`: answers 202; 410 outside the replay window, 409 when
    /// the event cannot be redelivered.
    RedeliverEvent, event_id, POST, "/events/{}/redeliver", Redelivery, parse_object
);
