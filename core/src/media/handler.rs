//! Stream handlers: the code you write to reshape messages between Teler and the remote.
//!
//! A handler gets one message at a time, strictly in order for its direction, and answers
//! with a [`StreamOp`]. The simplest handler is a closure in the shape of the Python SDK's
//! handlers: text in, `(text, StreamOp)` out.
//!
//! ```
//! use teler_core::media::{HandlerResult, StreamOp};
//! // Relay everything unchanged.
//! let relay = |msg: &str| -> HandlerResult { Ok((msg.to_owned(), StreamOp::Relay)) };
//! # let _ = relay;
//! ```
//!
//! For the Teler side, [`typed`] hands the closure the already parsed [`TelerMessage`], so the
//! frame is parsed once, by the core.

use std::fmt;
use std::time::Instant;

use super::message::TelerMessage;
use super::session::OutFrame;

/// What the bridge does with a handler's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamOp {
    /// Send the answer to the other side.
    Relay,
    /// Send nothing; the message is consumed.
    Pass,
    /// End the bridge: Teler's socket is closed with 1000 "Stream stopped by client", the
    /// remote is closed, and the end event says so.
    Stop,
}

/// The result type of a text handler: the message to relay and what to do.
pub type HandlerResult = Result<(String, StreamOp), HandlerError>;

/// An error from a handler. Any `std::error::Error` converts into it with `?`.
///
/// What the bridge does with it is [`crate::media::HandlerErrorPolicy`].
pub struct HandlerError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl HandlerError {
    /// An error with a plain message.
    pub fn msg(message: impl fmt::Display) -> Self {
        HandlerError(message.to_string().into())
    }

    /// The underlying error.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(e: E) -> Self {
        HandlerError(Box::new(e))
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// One message as a handler sees it: the frame text and, for frames from Teler, the parsed
/// message (parsed once by the session).
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    text: &'a str,
    teler: Option<&'a TelerMessage<'a>>,
}

impl<'a> Message<'a> {
    /// A message from Teler with its parsed form.
    pub fn from_teler(text: &'a str, parsed: &'a TelerMessage<'a>) -> Self {
        Message {
            text,
            teler: Some(parsed),
        }
    }

    /// A message from the remote (or any text with no Teler parse).
    pub fn from_text(text: &'a str) -> Self {
        Message { text, teler: None }
    }

    /// The frame text, exactly as received.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The parsed Teler message, for frames from Teler.
    pub fn teler(&self) -> Option<&'a TelerMessage<'a>> {
        self.teler
    }
}

/// Where a handler puts the messages it sends to the other side.
///
/// Most handlers send one message per input; a handler that must send several (a
/// packetiser flushing two chunks, a `clear` then audio) pushes each. The buffer is reused
/// across messages, so it costs no allocation per frame.
#[derive(Debug, Default)]
pub struct Outbox {
    pub(crate) items: Vec<OutFrame>,
    pub(crate) now: Option<Instant>,
}

impl Outbox {
    /// An empty outbox that tells handlers it is `now` (for testing a handler that paces or
    /// times out without a bridge).
    pub fn at(now: Instant) -> Self {
        Outbox {
            items: Vec::new(),
            now: Some(now),
        }
    }

    /// The time of the input being handled, as the driver passed it to the bridge; `None`
    /// for an outbox made with `Default` outside a bridge. Handlers have no clock of their
    /// own: this is it (pacing, silence detection, timestamps).
    pub fn now(&self) -> Option<Instant> {
        self.now
    }

    /// Queues one message for the other side (sent only if the handler answers `Relay`).
    pub fn send(&mut self, message: String) {
        self.items.push(OutFrame::Text(message));
    }

    /// Queues one binary frame for the other side (raw audio for an agent that takes it;
    /// Teler takes only text). Sent in order with the text ones, only on `Relay`.
    pub fn send_binary(&mut self, data: Vec<u8>) {
        self.items.push(OutFrame::Binary(data));
    }

    /// How many messages are queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The queued text messages, in order (binary ones: [`frames`](Self::frames)): for
    /// testing a handler without a bridge.
    ///
    /// ```
    /// use teler_core::media::{Message, Outbox, StreamHandler, StreamOp};
    /// let mut handler = teler_core::elevenlabs::remote_handler();
    /// let mut out = Outbox::default();
    /// let text = r#"{"type":"audio","audio_event":{"audio_base_64":"AAA=","event_id":1}}"#;
    /// let op = handler.handle(&Message::from_text(text), &mut out).unwrap();
    /// assert_eq!(op, StreamOp::Relay);
    /// assert_eq!(out.messages(), [r#"{"type":"audio","audio_b64":"AAA=","chunk_id":1}"#]);
    /// ```
    pub fn messages(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter_map(|f| match f {
                OutFrame::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every queued frame, text and binary, in order.
    pub fn frames(&self) -> &[OutFrame] {
        &self.items
    }

    /// Takes the queued frames out, leaving the outbox empty.
    pub fn take(&mut self) -> Vec<OutFrame> {
        std::mem::take(&mut self.items)
    }
}

/// A handler for one direction of the bridge.
///
/// Implemented for closures `FnMut(&str) -> HandlerResult` (the Python SDK's shape), for
/// [`typed`] closures, and for `Box<dyn StreamHandler>`. Implement it yourself to send
/// several messages per input or to greet the remote when it connects.
pub trait StreamHandler: Send {
    /// Handles one message. With `Relay`, everything pushed into `out` is sent to the other
    /// side in order; with `Pass` nothing is sent; with `Stop` nothing is sent and the bridge
    /// ends.
    fn handle(&mut self, message: &Message<'_>, out: &mut Outbox)
    -> Result<StreamOp, HandlerError>;

    /// Called on the **call-side** handler once the remote socket is open, before any queued
    /// caller audio is sent: push a vendor's session-config message here. Messages pushed go
    /// to the remote. The default sends nothing.
    fn on_remote_connected(&mut self, out: &mut Outbox) -> Result<(), HandlerError> {
        let _ = out;
        Ok(())
    }

    /// Called on the **remote-side** handler for a binary frame from the remote (vendors
    /// that send raw audio, or JSON in binary frames). `None` (the default) declines it: the
    /// bridge then applies [`binary_from_remote`](crate::media::BridgeConfigBuilder::binary_from_remote)
    /// (drop and count, by default). `Some` is handled like [`handle`](Self::handle)'s answer.
    fn handle_binary(
        &mut self,
        data: &[u8],
        out: &mut Outbox,
    ) -> Option<Result<StreamOp, HandlerError>> {
        let _ = (data, out);
        None
    }

    /// When this handler wants [`handle_timeout`](Self::handle_timeout) called, if ever (a
    /// packetiser holding audio for pacing). The bridge folds it into its own
    /// [`poll_timeout`](crate::media::Bridge::poll_timeout). The default is never.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Called once the time from [`poll_timeout`](Self::poll_timeout) has come, with the
    /// same outbox contract as [`handle`](Self::handle): with `Relay` what was pushed goes
    /// to the other side (not counted as a received frame). The default passes.
    fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
        let _ = (now, out);
        Ok(StreamOp::Pass)
    }
}

impl<F> StreamHandler for F
where
    F: FnMut(&str) -> HandlerResult + Send,
{
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        let (text, op) = self(message.text())?;
        if op == StreamOp::Relay {
            out.send(text);
        }
        Ok(op)
    }
}

impl StreamHandler for Box<dyn StreamHandler> {
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        (**self).handle(message, out)
    }
    fn on_remote_connected(&mut self, out: &mut Outbox) -> Result<(), HandlerError> {
        (**self).on_remote_connected(out)
    }
    fn handle_binary(
        &mut self,
        data: &[u8],
        out: &mut Outbox,
    ) -> Option<Result<StreamOp, HandlerError>> {
        (**self).handle_binary(data, out)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) -> Result<StreamOp, HandlerError> {
        (**self).handle_timeout(now, out)
    }
}

/// A handler that relays every message unchanged (the Python SDK's default).
pub fn relay() -> impl StreamHandler {
    |m: &str| -> HandlerResult { Ok((m.to_owned(), StreamOp::Relay)) }
}

/// A call-side handler that gets parsed [`TelerMessage`]s: no second parse of the frame.
///
/// On a side whose frames are not parsed by the session (the remote), the text is parsed
/// here; a frame that does not parse is a handler error.
///
/// ```
/// use teler_core::media::{typed, HandlerResult, StreamOp, TelerMessage};
/// let h = typed(|m: &TelerMessage<'_>| -> HandlerResult {
///     match m {
///         TelerMessage::Audio(a) => Ok((a.audio_b64.to_string(), StreamOp::Relay)),
///         _ => Ok((String::new(), StreamOp::Pass)),
///     }
/// });
/// # let _ = h;
/// ```
pub fn typed<F>(f: F) -> Typed<F>
where
    F: for<'a> FnMut(&TelerMessage<'a>) -> HandlerResult + Send,
{
    Typed(f)
}

/// See [`typed`].
pub struct Typed<F>(F);

impl<F> fmt::Debug for Typed<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Typed(..)")
    }
}

impl<F> StreamHandler for Typed<F>
where
    F: for<'a> FnMut(&TelerMessage<'a>) -> HandlerResult + Send,
{
    fn handle(
        &mut self,
        message: &Message<'_>,
        out: &mut Outbox,
    ) -> Result<StreamOp, HandlerError> {
        let (text, op) = match message.teler() {
            Some(parsed) => (self.0)(parsed)?,
            None => {
                let parsed = TelerMessage::parse(message.text()).map_err(HandlerError::from)?;
                (self.0)(&parsed)?
            }
        };
        if op == StreamOp::Relay {
            out.send(text);
        }
        Ok(op)
    }
}
