//! `/virtual-numbers`: list, assign, unassign, rename.

use http::Method;
use serde::Serialize;

use super::model::*;
use super::page::Page;
use super::{
    Error, Parts, RestConfig, TelerRequest, error::invalid, id_segment, json_body, parse_object,
    parse_object_or_default, parse_page, validate,
};

/// The list filters shared by list, assign and unassign.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NumberFilters {
    /// Text search.
    pub search: Option<String>,
    /// Location filter (repeated).
    pub location: Vec<String>,
    /// Voice app filter (repeated).
    pub voice_app: Vec<String>,
    /// SIP trunk filter (repeated).
    pub sip_trunk: Vec<String>,
}

impl NumberFilters {
    /// No filters.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the text search.
    pub fn search(mut self, s: impl Into<String>) -> Self {
        self.search = Some(s.into());
        self
    }
    /// Sets the location filter.
    pub fn location<I: IntoIterator<Item = S>, S: Into<String>>(mut self, v: I) -> Self {
        self.location = v.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the voice app filter.
    pub fn voice_app<I: IntoIterator<Item = S>, S: Into<String>>(mut self, v: I) -> Self {
        self.voice_app = v.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the SIP trunk filter.
    pub fn sip_trunk<I: IntoIterator<Item = S>, S: Into<String>>(mut self, v: I) -> Self {
        self.sip_trunk = v.into_iter().map(Into::into).collect();
        self
    }

    fn apply(&self, p: &mut Parts) {
        p.q("search", self.search.as_ref())
            .q_all("location", &self.location)
            .q_all("voice_app", &self.voice_app)
            .q_all("sip_trunk", &self.sip_trunk);
    }
}

/// `GET /virtual-numbers`: a page of numbers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListNumbers {
    /// Filters.
    pub filters: NumberFilters,
    /// Page size, 1..=100 (default 10).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl Default for ListNumbers {
    fn default() -> Self {
        Self::new()
    }
}

impl ListNumbers {
    /// No filters, `limit` 10.
    pub fn new() -> Self {
        ListNumbers {
            filters: NumberFilters::default(),
            limit: Some(10),
            cursor_after: None,
            cursor_before: None,
        }
    }
    /// Sets the text search.
    pub fn search(mut self, s: impl Into<String>) -> Self {
        self.filters.search = Some(s.into());
        self
    }
    /// Sets the location filter.
    pub fn location<I: IntoIterator<Item = S>, S: Into<String>>(mut self, v: I) -> Self {
        self.filters.location = v.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the voice app filter.
    pub fn voice_app<I: IntoIterator<Item = S>, S: Into<String>>(mut self, v: I) -> Self {
        self.filters.voice_app = v.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the SIP trunk filter.
    pub fn sip_trunk<I: IntoIterator<Item = S>, S: Into<String>>(mut self, v: I) -> Self {
        self.filters.sip_trunk = v.into_iter().map(Into::into).collect();
        self
    }
}
paged!(ListNumbers => VirtualNumber);

impl TelerRequest for ListNumbers {
    type Response = Page<VirtualNumber>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, "/virtual-numbers".into());
        self.filters.apply(&mut p);
        p.q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<VirtualNumber>, Error> {
        parse_page(resp)
    }
}

/// Which numbers an assign or unassign touches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NumberSelection {
    /// These numbers (at least one).
    Ids(Vec<String>),
    /// Every number matching the filters (sent as query parameters).
    AllMatching(NumberFilters),
}

impl NumberSelection {
    /// These numbers.
    pub fn ids<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Self {
        NumberSelection::Ids(ids.into_iter().map(Into::into).collect())
    }
}

#[derive(Serialize)]
struct AssignBody<'a> {
    vn_ids: Option<&'a [String]>,
    apply_to_all: Option<bool>,
    voice_app_id: Option<&'a str>,
    sip_trunk_id: Option<&'a str>,
}

fn selection_parts(
    path: &str,
    sel: &NumberSelection,
    voice_app_id: Option<&str>,
    sip_trunk_id: Option<&str>,
) -> Result<Parts, Error> {
    let mut p = Parts::new(Method::POST, path.into());
    let body = match sel {
        NumberSelection::Ids(ids) => {
            if ids.is_empty() {
                return Err(invalid(
                    "vn_ids",
                    "provide at least one id, or select all matching numbers (apply_to_all)",
                ));
            }
            for (i, id) in ids.iter().enumerate() {
                validate::required(&format!("vn_ids[{i}]"), id)?;
            }
            AssignBody {
                vn_ids: Some(ids),
                apply_to_all: None,
                voice_app_id,
                sip_trunk_id,
            }
        }
        NumberSelection::AllMatching(f) => {
            f.apply(&mut p);
            AssignBody {
                vn_ids: None,
                apply_to_all: Some(true),
                voice_app_id,
                sip_trunk_id,
            }
        }
    };
    p.json(&json_body(&body)?)?;
    Ok(p)
}

/// `POST /virtual-numbers/assign`: give numbers to exactly one voice app or SIP trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssignNumbers {
    /// Which numbers (`vn_ids` xor `apply_to_all`, by construction).
    pub selection: NumberSelection,
    /// To this voice app (exactly one of this and `sip_trunk_id`).
    pub voice_app_id: Option<String>,
    /// To this SIP trunk.
    pub sip_trunk_id: Option<String>,
}

impl AssignNumbers {
    /// Assign to a voice app.
    pub fn to_voice_app(selection: NumberSelection, voice_app_id: impl Into<String>) -> Self {
        AssignNumbers {
            selection,
            voice_app_id: Some(voice_app_id.into()),
            sip_trunk_id: None,
        }
    }
    /// Assign to a SIP trunk.
    pub fn to_sip_trunk(selection: NumberSelection, sip_trunk_id: impl Into<String>) -> Self {
        AssignNumbers {
            selection,
            voice_app_id: None,
            sip_trunk_id: Some(sip_trunk_id.into()),
        }
    }
}

impl TelerRequest for AssignNumbers {
    type Response = ActionResult;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let va = self
            .voice_app_id
            .as_deref()
            .filter(|s| !s.trim().is_empty());
        let st = self
            .sip_trunk_id
            .as_deref()
            .filter(|s| !s.trim().is_empty());
        match (va, st) {
            (None, None) => {
                return Err(invalid(
                    "voice_app_id",
                    "provide exactly one of voice_app_id or sip_trunk_id (got neither)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "voice_app_id",
                    "provide exactly one of voice_app_id or sip_trunk_id (got both): a number \
                     cannot be assigned to a voice app and a SIP trunk at once",
                ));
            }
            _ => {}
        }
        selection_parts("/virtual-numbers/assign", &self.selection, va, st)?.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<ActionResult, Error> {
        parse_object_or_default(resp)
    }
}

/// `POST /virtual-numbers/unassign`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnassignNumbers {
    /// Which numbers.
    pub selection: NumberSelection,
}

impl UnassignNumbers {
    /// Unassign these numbers.
    pub fn new(selection: NumberSelection) -> Self {
        UnassignNumbers { selection }
    }
}

impl TelerRequest for UnassignNumbers {
    type Response = ActionResult;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        selection_parts("/virtual-numbers/unassign", &self.selection, None, None)?.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<ActionResult, Error> {
        parse_object_or_default(resp)
    }
}

/// `PATCH /virtual-numbers/{id}`: rename a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UpdateNumber {
    /// The number's id.
    #[serde(skip)]
    pub vn_id: String,
    /// New name.
    pub name: Option<String>,
}

impl UpdateNumber {
    /// Rename `vn_id`.
    pub fn new(vn_id: impl Into<String>) -> Self {
        UpdateNumber {
            vn_id: vn_id.into(),
            name: None,
        }
    }
}
setters!(UpdateNumber { name: String });

impl TelerRequest for UpdateNumber {
    type Response = VirtualNumber;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("vn_id", &self.vn_id)?;
        let mut p = Parts::new(Method::PATCH, format!("/virtual-numbers/{id}"));
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<VirtualNumber, Error> {
        parse_object(resp)
    }
}
