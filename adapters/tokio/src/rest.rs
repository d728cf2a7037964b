//! The tokio REST client: [`AsyncClient`] (teler-async's, on [`Tokio`]), over hyper 1 by
//! default or any [`AsyncTransport`].
//!
//! Everything about Teler (request building, validation, answers, errors, the retry
//! decision, pagination) lives in [`teler_core::rest`], re-exported here; the send, retry and
//! paginate loop is [`teler_async::rest`]'s, shared with `teler-smol`.
//!
//! ```no_run
//! use teler_tokio::rest::{AsyncClient, Error};
//!
//! # async fn run() -> Result<(), Error> {
//! let client = AsyncClient::new(std::env::var("TELER_API_KEY").unwrap_or_default())?;
//! match client
//!     .calls()
//!     .create(
//!         "+918000000000",
//!         "+919000000000",
//!         "https://example.com/flow",
//!         "https://example.com/status",
//!         true,
//!     )
//!     .await
//! {
//!     Ok(call) => println!("placed {}", call.id),
//!     Err(Error::Validation(e)) => eprintln!("fix the parameter: {e}"),
//!     Err(Error::Unauthorized(e)) => eprintln!("check the API key: {}", e.message),
//!     Err(e @ (Error::Network(_) | Error::Timeout(_))) => eprintln!("no answer: {e}"),
//!     Err(e) => eprintln!("Teler refused: {e}"),
//! }
//! # Ok(())
//! # }
//! ```

//!
//! What the client does under faults (timeouts, retries, redirects, body limits, pagination)
//! is stated in the repository's `docs/REST.md`, the same for every client.
use crate::Tokio;

pub use teler_async::rest::{AsyncTransport, BoxFuture, DownloadSink, VendorRequest};
pub use teler_core::rest::*;

/// The REST client on tokio.
pub type AsyncClient = teler_async::rest::AsyncClient<Tokio>;
/// Settings for an [`AsyncClient`].
pub type AsyncClientBuilder = teler_async::rest::AsyncClientBuilder<Tokio>;
/// The default transport on tokio: hyper 1, pooled keep-alive connections, rustls.
pub type HyperTransport = teler_async::rest::HyperTransport<Tokio>;
