//! `/sip/…`: trunks (and their numbers), IP access control lists, SIP calls.

use std::fmt;

use http::Method;
use serde::Serialize;

use super::model::*;
use super::page::Page;
use super::{
    Error, Parts, RestConfig, TelerRequest, error::invalid, id_segment, json_body, parse_object,
    parse_page, validate,
};

// ------------------------------------------------------------------------------- trunks

/// A trunk's username and password. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct AuthCredential {
    /// Username.
    pub username: String,
    /// Password (at least 5 characters).
    pub password: String,
}

impl AuthCredential {
    /// A credential.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        AuthCredential {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for AuthCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCredential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One inline authorised source address of a trunk (a single IP, no CIDR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthAddress {
    /// A label.
    pub name: Option<String>,
    /// The IP address.
    pub address: String,
}

impl AuthAddress {
    /// An address with a label.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Self {
        AuthAddress {
            name: Some(name.into()),
            address: address.into(),
        }
    }
}

/// Where a trunk's inbound calls go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct InboundRoute {
    /// Name.
    pub name: Option<String>,
    /// SIP URL.
    pub sip_url: Option<String>,
    /// SIP user.
    pub sip_user: Option<String>,
}

impl InboundRoute {
    /// A route to `sip_url`.
    pub fn new(sip_url: impl Into<String>) -> Self {
        InboundRoute {
            sip_url: Some(sip_url.into()),
            ..Default::default()
        }
    }
}
setters!(InboundRoute {
    name: String,
    sip_user: String
});

fn check_credential(c: &AuthCredential) -> Result<(), Error> {
    validate::required("auth_credential.username", &c.username)?;
    let n = c.password.chars().count();
    if n < validate::MIN_PASSWORD_LEN {
        return Err(invalid(
            "auth_credential.password",
            format!(
                "must be at least {} characters, got {n}",
                validate::MIN_PASSWORD_LEN
            ),
        ));
    }
    Ok(())
}

fn known_auth_type(t: &AuthenticationType) -> Result<(), Error> {
    if let AuthenticationType::Other(v) = t {
        return Err(invalid(
            "authentication_type",
            format!("must be \"credential\" or \"IP\", got {v:?}"),
        ));
    }
    Ok(())
}

/// The pairing rules, for create (`update == false`) and update.
fn check_trunk_auth(
    auth_type: Option<&AuthenticationType>,
    cred: Option<&AuthCredential>,
    addrs: Option<&[AuthAddress]>,
    acl: Option<&str>,
    transport: Option<&SipTransport>,
    update: bool,
) -> Result<(), Error> {
    if let Some(t) = auth_type {
        known_auth_type(t)?;
    }
    if update && auth_type.is_none() && (cred.is_some() || addrs.is_some() || acl.is_some()) {
        return Err(invalid(
            "authentication_type",
            "is required when changing auth_credential, auth_addresses or ip_acl_id",
        ));
    }
    if let Some(a) = addrs
        && a.is_empty()
    {
        return Err(invalid(
            "auth_addresses",
            "provide at least one address, or leave it unset",
        ));
    }
    match auth_type {
        Some(AuthenticationType::Credential) => {
            if cred.is_none() {
                return Err(invalid(
                    "auth_credential",
                    "is required when authentication_type is \"credential\"",
                ));
            }
            if addrs.is_some() {
                return Err(invalid(
                    "auth_addresses",
                    "cannot be used when authentication_type is \"credential\"",
                ));
            }
            if acl.is_some() {
                return Err(invalid(
                    "ip_acl_id",
                    "cannot be used when authentication_type is \"credential\"",
                ));
            }
        }
        Some(AuthenticationType::Ip) => {
            if cred.is_some() {
                return Err(invalid(
                    "auth_credential",
                    "cannot be used when authentication_type is \"IP\"",
                ));
            }
            match (addrs.is_some(), acl.is_some()) {
                (true, true) => {
                    return Err(invalid(
                        "ip_acl_id",
                        "provide exactly one of auth_addresses or ip_acl_id, not both",
                    ));
                }
                (false, false) => {
                    return Err(invalid(
                        "auth_addresses",
                        "authentication_type \"IP\" needs exactly one of auth_addresses or ip_acl_id",
                    ));
                }
                _ => {}
            }
        }
        _ => {}
    }
    if let Some(c) = cred {
        check_credential(c)?;
    }
    if let Some(a) = addrs {
        validate::trunk_addresses(a)?;
    }
    if let Some(acl) = acl {
        validate::required("ip_acl_id", acl)?;
    }
    if transport == Some(&SipTransport::Udp)
        && auth_type.is_some_and(|t| *t != AuthenticationType::Credential)
    {
        return Err(invalid(
            "transport",
            "\"udp\" is only allowed with authentication_type \"credential\"",
        ));
    }
    Ok(())
}

/// `POST /sip/trunks`: create a SIP trunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateTrunk {
    /// Name.
    pub name: String,
    /// Domain name.
    pub domain_name: String,
    /// `credential` or `IP`.
    pub authentication_type: AuthenticationType,
    /// Channel limit.
    pub channel_limit: Option<u32>,
    /// Record calls.
    pub recording: Option<bool>,
    /// `tls`, `tcp` or `udp` (udp only with credential authentication).
    pub transport: Option<SipTransport>,
    /// Active.
    pub is_active: Option<bool>,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Credential (required for `credential`, refused for `IP`).
    pub auth_credential: Option<AuthCredential>,
    /// Inline source IPs (`IP` only; exactly one of this and `ip_acl_id`).
    pub auth_addresses: Option<Vec<AuthAddress>>,
    /// An IP ACL (`IP` only).
    pub ip_acl_id: Option<String>,
    /// Inbound route.
    pub inbound_route: Option<InboundRoute>,
    /// Signing secret.
    pub secret_id: Option<String>,
    /// Webhook version (default `2026-06-01`).
    pub webhook_api_version: WebhookApiVersion,
}

impl CreateTrunk {
    /// A trunk authenticated by username and password.
    pub fn with_credential(
        name: impl Into<String>,
        domain_name: impl Into<String>,
        credential: AuthCredential,
    ) -> Self {
        let mut t = Self::base(name, domain_name, AuthenticationType::Credential);
        t.auth_credential = Some(credential);
        t
    }

    /// A trunk authenticated by up to 5 inline source IPs.
    pub fn with_addresses(
        name: impl Into<String>,
        domain_name: impl Into<String>,
        addresses: Vec<AuthAddress>,
    ) -> Self {
        let mut t = Self::base(name, domain_name, AuthenticationType::Ip);
        t.auth_addresses = Some(addresses);
        t
    }

    /// A trunk authenticated by an IP ACL.
    pub fn with_ip_acl(
        name: impl Into<String>,
        domain_name: impl Into<String>,
        ip_acl_id: impl Into<String>,
    ) -> Self {
        let mut t = Self::base(name, domain_name, AuthenticationType::Ip);
        t.ip_acl_id = Some(ip_acl_id.into());
        t
    }

    /// A trunk with only the required fields set; fill the auth fields yourself.
    pub fn base(
        name: impl Into<String>,
        domain_name: impl Into<String>,
        authentication_type: AuthenticationType,
    ) -> Self {
        CreateTrunk {
            name: name.into(),
            domain_name: domain_name.into(),
            authentication_type,
            channel_limit: None,
            recording: None,
            transport: None,
            is_active: None,
            webhook_url: None,
            auth_credential: None,
            auth_addresses: None,
            ip_acl_id: None,
            inbound_route: None,
            secret_id: None,
            webhook_api_version: WebhookApiVersion::default(),
        }
    }

    /// Sets the webhook version.
    pub fn webhook_api_version(mut self, v: impl Into<WebhookApiVersion>) -> Self {
        self.webhook_api_version = v.into();
        self
    }
}
setters!(CreateTrunk { channel_limit: u32, recording: bool, transport: SipTransport, is_active: bool, webhook_url: String, auth_credential: AuthCredential, auth_addresses: Vec<AuthAddress>, ip_acl_id: String, inbound_route: InboundRoute, secret_id: String });

impl TelerRequest for CreateTrunk {
    type Response = SipTrunk;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::required("name", &self.name)?;
        validate::required("domain_name", &self.domain_name)?;
        validate::webhook_api_version(Some(&self.webhook_api_version))?;
        check_trunk_auth(
            Some(&self.authentication_type),
            self.auth_credential.as_ref(),
            self.auth_addresses.as_deref(),
            self.ip_acl_id.as_deref(),
            self.transport.as_ref(),
            false,
        )?;
        let mut p = Parts::new(Method::POST, "/sip/trunks".into());
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<SipTrunk, Error> {
        parse_object(resp)
    }
}

/// `GET /sip/trunks`: a page of trunks.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListTrunks {
    /// Text search.
    pub search: Option<String>,
    /// Status filter (repeated).
    pub status: Vec<String>,
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl Default for ListTrunks {
    fn default() -> Self {
        Self::new()
    }
}

impl ListTrunks {
    /// No filters, `limit` 50.
    pub fn new() -> Self {
        ListTrunks {
            search: None,
            status: Vec::new(),
            limit: Some(50),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListTrunks { search: String });
list_setters!(ListTrunks { status: String });
paged!(ListTrunks => SipTrunk);

impl TelerRequest for ListTrunks {
    type Response = Page<SipTrunk>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, "/sip/trunks".into());
        p.q("search", self.search.as_ref())
            .q_all("status", &self.status)
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<SipTrunk>, Error> {
        parse_page(resp)
    }
}

by_id!(
    /// `GET /sip/trunks/{id}`.
    RetrieveTrunk, trunk_id, GET, "/sip/trunks/{}", SipTrunk, parse_object
);
by_id!(
    /// `DELETE /sip/trunks/{id}`.
    DeleteTrunk, trunk_id, DELETE, "/sip/trunks/{}", ActionResult, parse_object_or_default
);

/// `PATCH /sip/trunks/{id}`: change some fields of a trunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdateTrunk {
    /// The trunk.
    #[serde(skip)]
    pub trunk_id: String,
    /// Name.
    pub name: Option<String>,
    /// Channel limit.
    pub channel_limit: Option<u32>,
    /// Record calls.
    pub recording: Option<bool>,
    /// Transport.
    pub transport: Option<SipTransport>,
    /// Active.
    pub is_active: Option<bool>,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Webhook version.
    pub webhook_api_version: Option<WebhookApiVersion>,
    /// Authentication type (required alongside any auth field).
    pub authentication_type: Option<AuthenticationType>,
    /// Credential.
    pub auth_credential: Option<AuthCredential>,
    /// Inline source IPs.
    pub auth_addresses: Option<Vec<AuthAddress>>,
    /// IP ACL.
    pub ip_acl_id: Option<String>,
    /// Inbound route.
    pub inbound_route: Option<InboundRoute>,
    /// Signing secret.
    pub secret_id: Option<String>,
}

impl UpdateTrunk {
    /// Changes nothing until fields are set.
    pub fn new(trunk_id: impl Into<String>) -> Self {
        UpdateTrunk {
            trunk_id: trunk_id.into(),
            name: None,
            channel_limit: None,
            recording: None,
            transport: None,
            is_active: None,
            webhook_url: None,
            webhook_api_version: None,
            authentication_type: None,
            auth_credential: None,
            auth_addresses: None,
            ip_acl_id: None,
            inbound_route: None,
            secret_id: None,
        }
    }
}
setters!(UpdateTrunk { name: String, channel_limit: u32, recording: bool, transport: SipTransport, is_active: bool, webhook_url: String, webhook_api_version: WebhookApiVersion, authentication_type: AuthenticationType, auth_credential: AuthCredential, auth_addresses: Vec<AuthAddress>, ip_acl_id: String, inbound_route: InboundRoute, secret_id: String });

impl TelerRequest for UpdateTrunk {
    type Response = SipTrunk;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("trunk_id", &self.trunk_id)?;
        validate::webhook_api_version(self.webhook_api_version.as_ref())?;
        check_trunk_auth(
            self.authentication_type.as_ref(),
            self.auth_credential.as_ref(),
            self.auth_addresses.as_deref(),
            self.ip_acl_id.as_deref(),
            self.transport.as_ref(),
            true,
        )?;
        let mut p = Parts::new(Method::PATCH, format!("/sip/trunks/{id}"));
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<SipTrunk, Error> {
        parse_object(resp)
    }
}

/// `GET /sip/trunks/{id}/virtual-numbers`: a page of the trunk's numbers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListTrunkNumbers {
    /// The trunk.
    pub trunk_id: String,
    /// Text search.
    pub search: Option<String>,
    /// Location filter (repeated).
    pub location: Vec<String>,
    /// Page size, 1..=100 (default 10).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl ListTrunkNumbers {
    /// No filters, `limit` 10.
    pub fn new(trunk_id: impl Into<String>) -> Self {
        ListTrunkNumbers {
            trunk_id: trunk_id.into(),
            search: None,
            location: Vec::new(),
            limit: Some(10),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListTrunkNumbers { search: String });
list_setters!(ListTrunkNumbers { location: String });
paged!(ListTrunkNumbers => VirtualNumber);

impl TelerRequest for ListTrunkNumbers {
    type Response = Page<VirtualNumber>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("trunk_id", &self.trunk_id)?;
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, format!("/sip/trunks/{id}/virtual-numbers"));
        p.q("search", self.search.as_ref())
            .q_all("location", &self.location)
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<VirtualNumber>, Error> {
        parse_page(resp)
    }
}

// ------------------------------------------------------------------------------ IP ACLs

/// `POST /sip/ip-acls`: create an IP access control list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CreateIpAcl {
    /// Name, 1..=64 characters after trimming.
    pub name: String,
    /// 1..=50 entries.
    pub addresses: Vec<IpAclEntry>,
}

impl CreateIpAcl {
    /// An ACL.
    pub fn new(name: impl Into<String>, addresses: Vec<IpAclEntry>) -> Self {
        CreateIpAcl {
            name: name.into(),
            addresses,
        }
    }
}

impl TelerRequest for CreateIpAcl {
    type Response = IpAcl;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::acl_name(&self.name)?;
        validate::acl_entries(&self.addresses)?;
        let mut p = Parts::new(Method::POST, "/sip/ip-acls".into());
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<IpAcl, Error> {
        parse_object(resp)
    }
}

/// `GET /sip/ip-acls`: a page of ACLs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListIpAcls {
    /// Text search.
    pub search: Option<String>,
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl Default for ListIpAcls {
    fn default() -> Self {
        Self::new()
    }
}

impl ListIpAcls {
    /// No filters, `limit` 50.
    pub fn new() -> Self {
        ListIpAcls {
            search: None,
            limit: Some(50),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListIpAcls { search: String });
paged!(ListIpAcls => IpAcl);

impl TelerRequest for ListIpAcls {
    type Response = Page<IpAcl>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, "/sip/ip-acls".into());
        p.q("search", self.search.as_ref())
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<IpAcl>, Error> {
        parse_page(resp)
    }
}

by_id!(
    /// `GET /sip/ip-acls/{id}`.
    RetrieveIpAcl, ip_acl_id, GET, "/sip/ip-acls/{}", IpAcl, parse_object
);
by_id!(
    /// `DELETE /sip/ip-acls/{id}` (409 while a trunk uses it).
    DeleteIpAcl, ip_acl_id, DELETE, "/sip/ip-acls/{}", ActionResult, parse_object_or_default
);

/// `PATCH /sip/ip-acls/{id}`: rename and/or replace the whole address set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UpdateIpAcl {
    /// The ACL.
    #[serde(skip)]
    pub ip_acl_id: String,
    /// New name.
    pub name: Option<String>,
    /// The new, complete set of entries.
    pub addresses: Option<Vec<IpAclEntry>>,
}

impl UpdateIpAcl {
    /// Changes nothing until fields are set.
    pub fn new(ip_acl_id: impl Into<String>) -> Self {
        UpdateIpAcl {
            ip_acl_id: ip_acl_id.into(),
            name: None,
            addresses: None,
        }
    }
}
setters!(UpdateIpAcl { name: String, addresses: Vec<IpAclEntry> });

impl TelerRequest for UpdateIpAcl {
    type Response = IpAcl;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("ip_acl_id", &self.ip_acl_id)?;
        if let Some(n) = &self.name {
            validate::acl_name(n)?;
        }
        if let Some(a) = &self.addresses {
            validate::acl_entries(a)?;
        }
        let mut p = Parts::new(Method::PATCH, format!("/sip/ip-acls/{id}"));
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<IpAcl, Error> {
        parse_object(resp)
    }
}

// ---------------------------------------------------------------------------- SIP calls

/// `GET /sip/calls`: a page of SIP calls.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListSipCalls {
    /// Filter by trunk.
    pub trunk_id: Option<String>,
    /// Filter by caller.
    pub from_number: Option<String>,
    /// Filter by callee.
    pub to_number: Option<String>,
    /// Created after.
    pub created_after: Option<String>,
    /// Created before.
    pub created_before: Option<String>,
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl Default for ListSipCalls {
    fn default() -> Self {
        Self::new()
    }
}

impl ListSipCalls {
    /// No filters, `limit` 50.
    pub fn new() -> Self {
        ListSipCalls {
            trunk_id: None,
            from_number: None,
            to_number: None,
            created_after: None,
            created_before: None,
            limit: Some(50),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListSipCalls {
    trunk_id: String,
    from_number: String,
    to_number: String,
    created_after: String,
    created_before: String
});
paged!(ListSipCalls => SipCall);

impl TelerRequest for ListSipCalls {
    type Response = Page<SipCall>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, "/sip/calls".into());
        p.q("trunk_id", self.trunk_id.as_ref())
            .q("from_number", self.from_number.as_ref())
            .q("to_number", self.to_number.as_ref())
            .q("created_after", self.created_after.as_ref())
            .q("created_before", self.created_before.as_ref())
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<SipCall>, Error> {
        parse_page(resp)
    }
}

by_id!(
    /// `GET /sip/calls/{id}`.
    RetrieveSipCall, call_id, GET, "/sip/calls/{}", SipCall, parse_object
);
