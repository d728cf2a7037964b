//! `/secrets`: webhook signing secrets.

use http::Method;
use serde::Serialize;

use super::model::*;
use super::page::Page;
use super::{
    Error, Parts, RestConfig, TelerRequest, id_segment, json_body, parse_object, parse_page,
    validate,
};

/// Secret answers carry `secret_value`: when one cannot be decoded, the error keeps neither
/// the raw body nor serde's message (which can quote a value), so logging it leaks nothing.
fn withhold_details(e: Error) -> Error {
    match e {
        Error::Decode { status, .. } => Error::Decode {
            status,
            message: "the answer is not a secret object (body withheld: it may hold the secret \
                      value)"
                .into(),
            body: Vec::new(),
        },
        other => other,
    }
}

pub(super) fn parse_secret(resp: http::Response<Vec<u8>>) -> Result<Secret, Error> {
    parse_object(resp).map_err(withhold_details)
}

/// `POST /secrets`: create a signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CreateSecret {
    /// Name.
    pub name: String,
}

impl CreateSecret {
    /// A secret named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        CreateSecret { name: name.into() }
    }
}

impl TelerRequest for CreateSecret {
    type Response = Secret;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::required("name", &self.name)?;
        let mut p = Parts::new(Method::POST, "/secrets".into());
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Secret, Error> {
        parse_secret(resp)
    }
}

/// `GET /secrets`: a page of secrets.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListSecrets {
    /// Text search.
    pub search: Option<String>,
    /// Page size, 1..=100 (default 10).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl Default for ListSecrets {
    fn default() -> Self {
        Self::new()
    }
}

impl ListSecrets {
    /// No filters, `limit` 10.
    pub fn new() -> Self {
        ListSecrets {
            search: None,
            limit: Some(10),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListSecrets { search: String });
paged!(ListSecrets => Secret);

impl TelerRequest for ListSecrets {
    type Response = Page<Secret>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, "/secrets".into());
        p.q("search", self.search.as_ref())
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<Secret>, Error> {
        parse_page(resp).map_err(withhold_details)
    }
}

by_id!(
    /// `GET /secrets/{id}`.
    RetrieveSecret, secret_id, GET, "/secrets/{}", Secret, parse_secret
);
by_id!(
    /// `DELETE /secrets/{id}`.
    DeleteSecret, secret_id, DELETE, "/secrets/{}", ActionResult, parse_object_or_default
);

/// `PATCH /secrets/{id}`: rename and/or rotate. Not replay-safe when rotating, so it is
/// never retried once it may have reached the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UpdateSecret {
    /// The secret.
    #[serde(skip)]
    pub secret_id: String,
    /// New name.
    pub name: Option<String>,
    /// Rotate the value (default false).
    pub rotate: bool,
}

impl UpdateSecret {
    /// Changes nothing until fields are set.
    pub fn new(secret_id: impl Into<String>) -> Self {
        UpdateSecret {
            secret_id: secret_id.into(),
            name: None,
            rotate: false,
        }
    }
    /// Sets `rotate`.
    pub fn rotate(mut self, rotate: bool) -> Self {
        self.rotate = rotate;
        self
    }
}
setters!(UpdateSecret { name: String });

impl TelerRequest for UpdateSecret {
    type Response = Secret;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("secret_id", &self.secret_id)?;
        let mut p = Parts::new(Method::PATCH, format!("/secrets/{id}"));
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Secret, Error> {
        parse_secret(resp)
    }
}
