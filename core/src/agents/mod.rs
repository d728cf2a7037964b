//! Ready-made handler pairs for the voice AI agents FreJun bridges calls to, one module per
//! vendor. Each module documents the messages it sends and reads, the audio formats both
//! ways, the session setup, the barge-in signal and where its facts come from
//! (`docs/AGENTS.md` has the sources and what could not be confirmed).
//!
//! | module | vendor | caller audio to vendor | agent audio to Teler | barge-in |
//! |---|---|---|---|---|
//! | [`elevenlabs`] | ElevenLabs Conversational AI | `user_audio_chunk`, Teler's rate | `audio` events, passed as they come | `interruption` |
//! | [`openai`] | OpenAI Realtime | `input_audio_buffer.append`, 24 kHz | `response.output_audio.delta`, 24 kHz, 500 ms chunks | `input_audio_buffer.speech_started` |
//! | [`gemini`] | Google Gemini Live | `realtimeInput.audio`, 16 kHz, after `setupComplete` | `serverContent.modelTurn` `inlineData`, 24 kHz, 500 ms chunks | `serverContent.interrupted` |
//! | [`deepgram`] | Deepgram Voice Agent | binary PCM16, 16 kHz, after `SettingsApplied` | binary PCM16, 24 kHz, 500 ms chunks | `UserStartedSpeaking` |
//! | [`ultravox`] | Ultravox (`serverWebSocket`) | binary PCM16, 8 kHz | binary PCM16, 8 kHz, 500 ms chunks | `playback_clear_buffer` |
//! | [`cartesia`] | Cartesia Line agent (Agents WebSocket) | `media_input` events, μ-law 8 kHz, after `ack` | `media_output` events, same format, 500 ms chunks | `clear` event |
//! | [`vapi`] | Vapi (`vapi.websocket` transport) | binary PCM16, 16 kHz (or μ-law 8 kHz) | binary, same format, 500 ms chunks | `user-interrupted` |
//! | [`devnagri`] | Devnagri voice bot | `media` events, 8 kHz, after `connected` + `start` | `media` events, 8 kHz, 500 ms chunks | `clear` event |
//! | [`sarvam`] | Sarvam voice agent (Samvaad) | `client.media.audio_chunk`, 8 kHz, after `interaction_connected` | `server.media.audio_chunk`, 16 kHz (or the chunk's rate), 500 ms chunks | `server.event.user_interrupt` |
//!
//! Vendors that need an HTTP request before their socket (Ultravox creates a call and
//! answers with its socket URL; Cartesia's socket takes a short-lived access token; Vapi
//! creates a call like Ultravox; Sarvam signs a socket URL) have it as a [`VendorRequest`]
//! value: see [`presocket`].
//!
//! Every pair is per call: build a fresh pair for each call (the connectors' factory
//! does). All but ElevenLabs and Sarvam share one remote-side [`RemoteHandler`]: vendor
//! audio of any rate is resampled to Teler's 8 kHz and cut into chunks of the configured
//! length with increasing `chunk_id`, the end of the agent's turn flushes the remainder,
//! barge-in drops what is held and sends Teler `clear`, and the vendor's error messages
//! become handler errors carrying the vendor's text. Sarvam's remote handler does the same
//! on the same packetiser, and also follows the rate each audio chunk names and hands the
//! agent's pings to its call side, which answers them.
//!
//! Vendors whose socket carries raw audio in **binary** frames both ways send caller audio
//! with [`Outbox::send_binary`](crate::media::Outbox::send_binary)-style binary frames and
//! read the agent's from
//! [`StreamHandler::handle_binary`](crate::media::StreamHandler::handle_binary).

pub mod cartesia;
mod common;
pub mod deepgram;
pub mod devnagri;
pub mod elevenlabs;
pub mod gemini;
pub mod openai;
pub mod presocket;
pub mod sarvam;
pub mod ultravox;
pub mod vapi;

pub use common::RemoteHandler;
pub use presocket::VendorRequest;
