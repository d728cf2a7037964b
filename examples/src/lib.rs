//! Shared bits of the runnable examples.
#![forbid(unsafe_code)]
