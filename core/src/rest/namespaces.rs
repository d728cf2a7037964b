//! The clients' namespaces (`client.voice().calls().create(…)`, …), generated for each client
//! by one macro so that the blocking and async clients cannot drift apart.

/// Generates the namespace types and methods for a client type that has
/// `fn send<R: TelerRequest>(&self, req: R) -> Result<R::Response, Error>` (or an `async fn`).
/// Used by the adapter crates; not part of the public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __teler_rest_namespaces {
    ($client:ident, $($async:ident)?, $($aw:tt)?) => {
        impl $client {
            #[doc = "Voice: calls, apps, mutations (play, dtmf, mute, hangup), operations (transfer)."]
            pub fn voice(&self) -> Voice<'_> { Voice { c: self } }
            #[doc = "Virtual numbers."]
            pub fn virtual_numbers(&self) -> VirtualNumbers<'_> { VirtualNumbers { c: self } }
            #[doc = "SIP: trunks, calls, IP ACLs."]
            pub fn sip(&self) -> Sip<'_> { Sip { c: self } }
            #[doc = "Webhook signing secrets."]
            pub fn secrets(&self) -> Secrets<'_> { Secrets { c: self } }
            #[doc = "Stored webhook events."]
            pub fn events(&self) -> Events<'_> { Events { c: self } }
            #[doc = "Recordings."]
            pub fn recordings(&self) -> Recordings<'_> { Recordings { c: self } }
            #[doc = "The seed's shortcut: `client.calls().create(from, to, flow_url, status_callback_url, record)`."]
            pub fn calls(&self) -> Shortcuts<'_> { Shortcuts { c: self } }
        }
        #[doc = "Voice: calls, apps, mutations, operations."]
        #[derive(Clone, Copy)]
        pub struct Voice<'a> { c: &'a $client }
        impl<'a> Voice<'a> {
            #[doc = "Calls: `POST /voice/calls/initiate`, `GET /voice/calls[/{id}[/legs]]`."]
            pub fn calls(&self) -> Calls<'a> { Calls { c: self.c } }
            #[doc = "Voice apps: `/voice/apps`."]
            pub fn apps(&self) -> Apps<'a> { Apps { c: self.c } }
            #[doc = "Call mutations (each carries an `Idempotency-Key`, generated when unset)."]
            pub fn mutations(&self) -> Mutations<'a> { Mutations { c: self.c } }
            #[doc = "Call operations (with an `Idempotency-Key`, generated when unset)."]
            pub fn operations(&self) -> Operations<'a> { Operations { c: self.c } }
        }
        #[doc = "SIP: trunks, calls, IP ACLs."]
        #[derive(Clone, Copy)]
        pub struct Sip<'a> { c: &'a $client }
        impl<'a> Sip<'a> {
            #[doc = "SIP trunks: `/sip/trunks`."]
            pub fn trunks(&self) -> Trunks<'a> { Trunks { c: self.c } }
            #[doc = "SIP calls: `/sip/calls`."]
            pub fn calls(&self) -> SipCalls<'a> { SipCalls { c: self.c } }
            #[doc = "IP access control lists: `/sip/ip-acls`."]
            pub fn ip_acls(&self) -> IpAcls<'a> { IpAcls { c: self.c } }
        }
        #[doc = "Calls: `POST /voice/calls/initiate`, `GET /voice/calls[/{id}[/legs]]`."]
        #[derive(Clone, Copy)]
        pub struct Calls<'a> { c: &'a $client }
        impl<'a> Calls<'a> {
            #[doc = "Places a call (`POST /voice/calls/initiate`)."]
            pub $($async)? fn create(self, req: $crate::rest::voice::CreateCall) -> ::std::result::Result<$crate::rest::CreatedCall, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One page of calls (`GET /voice/calls`)."]
            pub $($async)? fn list(self, req: $crate::rest::voice::ListCalls) -> ::std::result::Result<$crate::rest::Page<$crate::rest::Call>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One call (`GET /voice/calls/{id}`)."]
            pub $($async)? fn retrieve(self, call_id: &str) -> ::std::result::Result<$crate::rest::Call, $crate::rest::Error> {
                self.c.send($crate::rest::voice::RetrieveCall::new(call_id)) $(.$aw)?
            }
            #[doc = "A call's legs (`GET /voice/calls/{id}/legs`)."]
            pub $($async)? fn list_legs(self, call_id: &str) -> ::std::result::Result<$crate::rest::Page<$crate::rest::CallLeg>, $crate::rest::Error> {
                self.c.send($crate::rest::voice::ListCallLegs::new(call_id)) $(.$aw)?
            }
        }
        #[doc = "Voice apps: `/voice/apps`."]
        #[derive(Clone, Copy)]
        pub struct Apps<'a> { c: &'a $client }
        impl<'a> Apps<'a> {
            #[doc = "Creates a voice app."]
            pub $($async)? fn create(self, req: $crate::rest::voice::CreateApp) -> ::std::result::Result<$crate::rest::VoiceApp, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One page of voice apps."]
            pub $($async)? fn list(self, req: $crate::rest::voice::ListApps) -> ::std::result::Result<$crate::rest::Page<$crate::rest::VoiceApp>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One voice app."]
            pub $($async)? fn retrieve(self, voice_app_id: &str) -> ::std::result::Result<$crate::rest::VoiceApp, $crate::rest::Error> {
                self.c.send($crate::rest::voice::RetrieveApp::new(voice_app_id)) $(.$aw)?
            }
            #[doc = "Changes a voice app."]
            pub $($async)? fn update(self, req: $crate::rest::voice::UpdateApp) -> ::std::result::Result<$crate::rest::VoiceApp, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Deletes a voice app."]
            pub $($async)? fn delete(self, voice_app_id: &str) -> ::std::result::Result<$crate::rest::ActionResult, $crate::rest::Error> {
                self.c.send($crate::rest::voice::DeleteApp::new(voice_app_id)) $(.$aw)?
            }
            #[doc = "One page of a voice app's numbers (limit 1..=50)."]
            pub $($async)? fn list_virtual_numbers(self, req: $crate::rest::voice::ListAppNumbers) -> ::std::result::Result<$crate::rest::Page<$crate::rest::VirtualNumber>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
        }
        #[doc = "Call mutations (each carries an `Idempotency-Key`, generated when unset)."]
        #[derive(Clone, Copy)]
        pub struct Mutations<'a> { c: &'a $client }
        impl<'a> Mutations<'a> {
            #[doc = "Hangs up a call or leg."]
            pub $($async)? fn hangup(self, req: $crate::rest::voice::Hangup) -> ::std::result::Result<$crate::rest::MutationResult, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Mutes or unmutes a leg."]
            pub $($async)? fn mute(self, req: $crate::rest::voice::Mute) -> ::std::result::Result<$crate::rest::MutationResult, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Sends DTMF digits."]
            pub $($async)? fn dtmf(self, req: $crate::rest::voice::SendDtmf) -> ::std::result::Result<$crate::rest::MutationResult, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Plays a media file into the call."]
            pub $($async)? fn play(self, req: $crate::rest::voice::Play) -> ::std::result::Result<$crate::rest::MutationResult, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
        }
        #[doc = "Call operations (with an `Idempotency-Key`, generated when unset)."]
        #[derive(Clone, Copy)]
        pub struct Operations<'a> { c: &'a $client }
        impl<'a> Operations<'a> {
            #[doc = "Transfers a call."]
            pub $($async)? fn transfer(self, req: $crate::rest::voice::Transfer) -> ::std::result::Result<$crate::rest::TransferResult, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
        }
        #[doc = "Virtual numbers: `/virtual-numbers`."]
        #[derive(Clone, Copy)]
        pub struct VirtualNumbers<'a> { c: &'a $client }
        impl<'a> VirtualNumbers<'a> {
            #[doc = "One page of numbers."]
            pub $($async)? fn list(self, req: $crate::rest::numbers::ListNumbers) -> ::std::result::Result<$crate::rest::Page<$crate::rest::VirtualNumber>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Assigns numbers to a voice app or a SIP trunk."]
            pub $($async)? fn assign(self, req: $crate::rest::numbers::AssignNumbers) -> ::std::result::Result<$crate::rest::ActionResult, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Unassigns numbers."]
            pub $($async)? fn unassign(self, req: $crate::rest::numbers::UnassignNumbers) -> ::std::result::Result<$crate::rest::ActionResult, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Renames a number."]
            pub $($async)? fn update(self, req: $crate::rest::numbers::UpdateNumber) -> ::std::result::Result<$crate::rest::VirtualNumber, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
        }
        #[doc = "SIP trunks: `/sip/trunks`."]
        #[derive(Clone, Copy)]
        pub struct Trunks<'a> { c: &'a $client }
        impl<'a> Trunks<'a> {
            #[doc = "Creates a trunk."]
            pub $($async)? fn create(self, req: $crate::rest::sip::CreateTrunk) -> ::std::result::Result<$crate::rest::SipTrunk, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One page of trunks."]
            pub $($async)? fn list(self, req: $crate::rest::sip::ListTrunks) -> ::std::result::Result<$crate::rest::Page<$crate::rest::SipTrunk>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One trunk."]
            pub $($async)? fn retrieve(self, trunk_id: &str) -> ::std::result::Result<$crate::rest::SipTrunk, $crate::rest::Error> {
                self.c.send($crate::rest::sip::RetrieveTrunk::new(trunk_id)) $(.$aw)?
            }
            #[doc = "Changes a trunk."]
            pub $($async)? fn update(self, req: $crate::rest::sip::UpdateTrunk) -> ::std::result::Result<$crate::rest::SipTrunk, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Deletes a trunk."]
            pub $($async)? fn delete(self, trunk_id: &str) -> ::std::result::Result<$crate::rest::ActionResult, $crate::rest::Error> {
                self.c.send($crate::rest::sip::DeleteTrunk::new(trunk_id)) $(.$aw)?
            }
            #[doc = "One page of a trunk's numbers."]
            pub $($async)? fn list_virtual_numbers(self, req: $crate::rest::sip::ListTrunkNumbers) -> ::std::result::Result<$crate::rest::Page<$crate::rest::VirtualNumber>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
        }
        #[doc = "SIP calls: `/sip/calls`."]
        #[derive(Clone, Copy)]
        pub struct SipCalls<'a> { c: &'a $client }
        impl<'a> SipCalls<'a> {
            #[doc = "One page of SIP calls."]
            pub $($async)? fn list(self, req: $crate::rest::sip::ListSipCalls) -> ::std::result::Result<$crate::rest::Page<$crate::rest::SipCall>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One SIP call."]
            pub $($async)? fn retrieve(self, call_id: &str) -> ::std::result::Result<$crate::rest::SipCall, $crate::rest::Error> {
                self.c.send($crate::rest::sip::RetrieveSipCall::new(call_id)) $(.$aw)?
            }
        }
        #[doc = "IP access control lists: `/sip/ip-acls`."]
        #[derive(Clone, Copy)]
        pub struct IpAcls<'a> { c: &'a $client }
        impl<'a> IpAcls<'a> {
            #[doc = "Creates an ACL."]
            pub $($async)? fn create(self, req: $crate::rest::sip::CreateIpAcl) -> ::std::result::Result<$crate::rest::IpAcl, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One page of ACLs."]
            pub $($async)? fn list(self, req: $crate::rest::sip::ListIpAcls) -> ::std::result::Result<$crate::rest::Page<$crate::rest::IpAcl>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One ACL with its addresses."]
            pub $($async)? fn retrieve(self, ip_acl_id: &str) -> ::std::result::Result<$crate::rest::IpAcl, $crate::rest::Error> {
                self.c.send($crate::rest::sip::RetrieveIpAcl::new(ip_acl_id)) $(.$aw)?
            }
            #[doc = "Renames an ACL and/or replaces its addresses."]
            pub $($async)? fn update(self, req: $crate::rest::sip::UpdateIpAcl) -> ::std::result::Result<$crate::rest::IpAcl, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Deletes an ACL (409 while a trunk uses it)."]
            pub $($async)? fn delete(self, ip_acl_id: &str) -> ::std::result::Result<$crate::rest::ActionResult, $crate::rest::Error> {
                self.c.send($crate::rest::sip::DeleteIpAcl::new(ip_acl_id)) $(.$aw)?
            }
        }
        #[doc = "Webhook signing secrets: `/secrets`."]
        #[derive(Clone, Copy)]
        pub struct Secrets<'a> { c: &'a $client }
        impl<'a> Secrets<'a> {
            #[doc = "Creates a secret."]
            pub $($async)? fn create(self, req: $crate::rest::secrets::CreateSecret) -> ::std::result::Result<$crate::rest::Secret, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One page of secrets."]
            pub $($async)? fn list(self, req: $crate::rest::secrets::ListSecrets) -> ::std::result::Result<$crate::rest::Page<$crate::rest::Secret>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One secret."]
            pub $($async)? fn retrieve(self, secret_id: &str) -> ::std::result::Result<$crate::rest::Secret, $crate::rest::Error> {
                self.c.send($crate::rest::secrets::RetrieveSecret::new(secret_id)) $(.$aw)?
            }
            #[doc = "Renames and/or rotates a secret."]
            pub $($async)? fn update(self, req: $crate::rest::secrets::UpdateSecret) -> ::std::result::Result<$crate::rest::Secret, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "Deletes a secret."]
            pub $($async)? fn delete(self, secret_id: &str) -> ::std::result::Result<$crate::rest::ActionResult, $crate::rest::Error> {
                self.c.send($crate::rest::secrets::DeleteSecret::new(secret_id)) $(.$aw)?
            }
        }
        #[doc = "Stored webhook events: `/events`."]
        #[derive(Clone, Copy)]
        pub struct Events<'a> { c: &'a $client }
        impl<'a> Events<'a> {
            #[doc = "One page of events."]
            pub $($async)? fn list(self, req: $crate::rest::events::ListEvents) -> ::std::result::Result<$crate::rest::Page<$crate::rest::Event>, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
            #[doc = "One event."]
            pub $($async)? fn retrieve(self, event_id: &str) -> ::std::result::Result<$crate::rest::Event, $crate::rest::Error> {
                self.c.send($crate::rest::events::RetrieveEvent::new(event_id)) $(.$aw)?
            }
            #[doc = "Redelivers an event (410 outside the replay window, 409 when not redeliverable)."]
            pub $($async)? fn redeliver(self, event_id: &str) -> ::std::result::Result<$crate::rest::Redelivery, $crate::rest::Error> {
                self.c.send($crate::rest::events::RedeliverEvent::new(event_id)) $(.$aw)?
            }
        }
        #[doc = "Recordings: `/recordings`."]
        #[derive(Clone, Copy)]
        pub struct Recordings<'a> { c: &'a $client }
        impl<'a> Recordings<'a> {
            #[doc = "A recording's signed download URL (the redirect is read, not followed)."]
            pub $($async)? fn retrieve(self, req: $crate::rest::recordings::GetRecording) -> ::std::result::Result<$crate::rest::RecordingUrl, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
        }
        #[doc = "The seed's shortcut namespace: `client.calls().create(…)`."]
        #[derive(Clone, Copy)]
        pub struct Shortcuts<'a> { c: &'a $client }
        impl<'a> Shortcuts<'a> {
            #[doc = "Places a call: `POST /voice/calls/initiate` with the five fields of the Python SDK's `calls.create`."]
            pub $($async)? fn create(self, from_number: &str, to_number: &str, flow_url: &str, status_callback_url: &str, record: bool) -> ::std::result::Result<$crate::rest::CreatedCall, $crate::rest::Error> {
                self.c.send($crate::rest::voice::CreateCall::new(from_number, to_number, flow_url, status_callback_url).record(record)) $(.$aw)?
            }
        }
    };
}
