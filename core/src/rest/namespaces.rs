//! The clients' namespaces (`client.voice().calls().create(…)`, …), generated for each client
//! by one macro so that the blocking and async clients cannot drift apart.

/// Generates the namespace types and methods for a client type that has
/// `fn send<R: TelerRequest>(&self, req: R) -> Result<R::Response, Error>` (or an `async fn`).
/// Used by the adapter crates; not part of the public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __teler_rest_namespaces {
    ($client:ident $(<$g:ident: $gb:path>)?, $($async:ident)?, $($aw:tt)?) => {
        impl$(<$g: $gb>)? $client$(<$g>)? {
            #[doc = "Voice: calls, apps, mutations (play, dtmf, mute, hangup), operations (transfer)."]
            pub fn voice(&self) -> Voice<'_ $(, $g)?> { Voice { c: self } }
            #[doc = "Virtual numbers."]
            pub fn virtual_numbers(&self) -> VirtualNumbers<'_ $(, $g)?> { VirtualNumbers { c: self } }
            #[doc = "SIP: trunks, calls, IP ACLs."]
            pub fn sip(&self) -> Sip<'_ $(, $g)?> { Sip { c: self } }
            #[doc = "Webhook signing secrets."]
            pub fn secrets(&self) -> Secrets<'_ $(, $g)?> { Secrets { c: self } }
            #[doc = "Stored webhook events."]
            pub fn events(&self) -> Events<'_ $(, $g)?> { Events { c: self } }
            #[doc = "Recordings."]
            pub fn recordings(&self) -> Recordings<'_ $(, $g)?> { Recordings { c: self } }
            #[doc = "The seed's shortcut: `client.calls().create(from, to, flow_url, status_callback_url, record)`."]
            pub fn calls(&self) -> Shortcuts<'_ $(, $g)?> { Shortcuts { c: self } }
        }
        #[doc = "Voice: calls, apps, mutations, operations."]
        pub struct Voice<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Voice<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Voice<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Voice<'a $(, $g)?> {
            #[doc = "Calls: `POST /voice/calls/initiate`, `GET /voice/calls[/{id}[/legs]]`."]
            pub fn calls(&self) -> Calls<'a $(, $g)?> { Calls { c: self.c } }
            #[doc = "Voice apps: `/voice/apps`."]
            pub fn apps(&self) -> Apps<'a $(, $g)?> { Apps { c: self.c } }
            #[doc = "Call mutations (each carries an `Idempotency-Key`, generated when unset)."]
            pub fn mutations(&self) -> Mutations<'a $(, $g)?> { Mutations { c: self.c } }
            #[doc = "Call operations (with an `Idempotency-Key`, generated when unset)."]
            pub fn operations(&self) -> Operations<'a $(, $g)?> { Operations { c: self.c } }
        }
        #[doc = "SIP: trunks, calls, IP ACLs."]
        pub struct Sip<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Sip<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Sip<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Sip<'a $(, $g)?> {
            #[doc = "SIP trunks: `/sip/trunks`."]
            pub fn trunks(&self) -> Trunks<'a $(, $g)?> { Trunks { c: self.c } }
            #[doc = "SIP calls: `/sip/calls`."]
            pub fn calls(&self) -> SipCalls<'a $(, $g)?> { SipCalls { c: self.c } }
            #[doc = "IP access control lists: `/sip/ip-acls`."]
            pub fn ip_acls(&self) -> IpAcls<'a $(, $g)?> { IpAcls { c: self.c } }
        }
        #[doc = "Calls: `POST /voice/calls/initiate`, `GET /voice/calls[/{id}[/legs]]`."]
        pub struct Calls<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Calls<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Calls<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Calls<'a $(, $g)?> {
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
        pub struct Apps<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Apps<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Apps<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Apps<'a $(, $g)?> {
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
        pub struct Mutations<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Mutations<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Mutations<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Mutations<'a $(, $g)?> {
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
        pub struct Operations<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Operations<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Operations<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Operations<'a $(, $g)?> {
            #[doc = "Transfers a call."]
            pub $($async)? fn transfer(self, req: $crate::rest::voice::Transfer) -> ::std::result::Result<$crate::rest::TransferResult, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
        }
        #[doc = "Virtual numbers: `/virtual-numbers`."]
        pub struct VirtualNumbers<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for VirtualNumbers<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for VirtualNumbers<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> VirtualNumbers<'a $(, $g)?> {
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
        pub struct Trunks<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Trunks<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Trunks<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Trunks<'a $(, $g)?> {
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
        pub struct SipCalls<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for SipCalls<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for SipCalls<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> SipCalls<'a $(, $g)?> {
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
        pub struct IpAcls<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for IpAcls<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for IpAcls<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> IpAcls<'a $(, $g)?> {
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
        pub struct Secrets<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Secrets<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Secrets<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Secrets<'a $(, $g)?> {
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
        pub struct Events<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Events<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Events<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Events<'a $(, $g)?> {
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
        pub struct Recordings<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Recordings<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Recordings<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Recordings<'a $(, $g)?> {
            #[doc = "A recording's signed download URL (the redirect is read, not followed)."]
            pub $($async)? fn retrieve(self, req: $crate::rest::recordings::GetRecording) -> ::std::result::Result<$crate::rest::RecordingUrl, $crate::rest::Error> {
                self.c.send(req) $(.$aw)?
            }
        }
        #[doc = "The seed's shortcut namespace: `client.calls().create(…)`."]
        pub struct Shortcuts<'a $(, $g: $gb)?> { c: &'a $client$(<$g>)? }
        impl<'a $(, $g: $gb)?> Clone for Shortcuts<'a $(, $g)?> { fn clone(&self) -> Self { *self } }
        impl<'a $(, $g: $gb)?> Copy for Shortcuts<'a $(, $g)?> {}
        impl<'a $(, $g: $gb)?> Shortcuts<'a $(, $g)?> {
            #[doc = "Places a call: `POST /voice/calls/initiate` with the five fields of the Python SDK's `calls.create`."]
            pub $($async)? fn create(self, from_number: &str, to_number: &str, flow_url: &str, status_callback_url: &str, record: bool) -> ::std::result::Result<$crate::rest::CreatedCall, $crate::rest::Error> {
                self.c.send($crate::rest::voice::CreateCall::new(from_number, to_number, flow_url, status_callback_url).record(record)) $(.$aw)?
            }
        }
    };
}
