//! redact-pii: a Switchyard redaction plugin (ABI v1, docs/abi.md).
//!
//! Layout, so that the ABI glue can be swapped for the Rust SDK (sdk/rust)
//! without touching the engine:
//! - `engine`: config → Engine; body → rewritten body + (placeholder, original)
//!   pairs. No ABI knowledge; tested natively (`cargo test`).
//! - `detect`: the built-in entity detectors, one pass per string value.
//! - `json`: the JSON walk (string values only, never keys) and unescaping.
//! - `abi`: the only file that knows ABI v1: the exports, the input record,
//!   the output record. Compiled for wasm32 only.

pub mod detect;
pub mod engine;
pub mod json;

#[cfg(target_arch = "wasm32")]
mod abi;
