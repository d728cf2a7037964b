//! Cursor pages and the paginator's decision logic, shared by the blocking iterator and the
//! async streams.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::TelerRequest;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: serde::de::DeserializeOwned"))]
#[non_exhaustive]
pub struct Page<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Cursor for the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Cursor for the previous page.
    #[serde(default)]
    pub previous_cursor: Option<String>,
    /// Whether more pages follow.
    #[serde(default)]
    pub has_more: bool,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            data: Vec::new(),
            next_cursor: None,
            previous_cursor: None,
            has_more: false,
        }
    }
}

/// A list request that can be walked page by page.
pub trait PagedRequest: TelerRequest<Response = Page<Self::Item>> + Clone {
    /// The items' type.
    type Item;
    /// The `cursor_after` this request carries.
    fn cursor_after_value(&self) -> Option<&str>;
    /// The same request for the page after `cursor` (any `cursor_before` is dropped).
    fn with_cursor_after(&self, cursor: String) -> Self;
}

/// The paginator's state: which request comes next, and when to stop.
///
/// It stops when a page says `has_more: false` or has no (or an empty) `next_cursor`. A page
/// whose `next_cursor` was already used (a server repeating or cycling cursors) ends the walk
/// with [`Error::Pagination`](super::Error::Pagination), so a misbehaving server cannot make
/// it loop forever and the caller learns the list was cut short.
#[derive(Debug, Clone)]
pub struct Paginator<R> {
    next: Option<R>,
    seen: HashSet<String>,
}

impl<R: PagedRequest> Paginator<R> {
    /// Starts at `first` (which may carry a starting cursor).
    pub fn new(first: R) -> Self {
        let mut seen = HashSet::new();
        if let Some(c) = first.cursor_after_value() {
            seen.insert(c.to_string());
        }
        Paginator {
            next: Some(first),
            seen,
        }
    }

    /// The request to send next, or `None` when the walk is over.
    pub fn next_request(&mut self) -> Option<R> {
        self.next.take()
    }

    /// Feeds the page answered to the request last taken; decides the next request. `Err`
    /// when the page repeats a cursor already used: the walk is over (this page's items are
    /// still good).
    pub fn handle_page<T>(&mut self, sent: &R, page: &Page<T>) -> Result<(), super::Error> {
        self.next = None;
        if !page.has_more {
            return Ok(());
        }
        let Some(cursor) = page.next_cursor.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(());
        };
        if !self.seen.insert(cursor.to_string()) {
            return Err(super::Error::Pagination(format!(
                "the API answered with a cursor already used ({cursor:?}): stopped rather than loop"
            )));
        }
        self.next = Some(sent.with_cursor_after(cursor.to_string()));
        Ok(())
    }

    /// Whether the walk is over.
    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }
}
