//! Guest SDK for Switchyard plugins in Rust (ABI v1, `docs/abi.md`).
//!
//! A plugin is a `cdylib` crate that writes one function and one macro call:
//!
//! ```ignore
//! use switchyard::{Decision, Request, Upstream};
//!
//! fn route(_req: &Request, ups: &[Upstream], out: &mut Decision) {
//!     for (i, u) in ups.iter().enumerate() {
//!         if u.healthy {
//!             out.push(i);
//!         }
//!     }
//! }
//!
//! switchyard::plugin! { name: "healthy-first", version: "1.0.0", route: route }
//! ```
//!
//! built with `cargo build --release --target wasm32-unknown-unknown`.
//!
//! The SDK owns the ABI: [`plugin!`] generates the exports (`#[export_name]`, so they never clash with your function names)
//! (`switchyard_abi_version`, `alloc`, `init`, `plugin_name`, `plugin_version`,
//! `plugin_kinds`, `route`, `redact`); the SDK decodes the host's input record
//! into [`Request`] and [`Upstream`] views and encodes the [`Decision`] or the
//! [`Redaction`]. Every `&str` and `&[u8]` a hook receives borrows the input
//! record, which lives until the hook returns: copy what you keep. The SDK
//! reuses its buffers across calls, so it allocates nothing per call once they
//! have grown to the largest record seen.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

extern crate alloc;

mod record;
mod redaction;
#[doc(hidden)]
pub mod rt;

pub use record::{decode_redact, decode_route, Headers, Request, Upstream, UpstreamTable};
pub use redaction::{RedactBuffers, Redaction, Taken};

/// ABI version this SDK speaks; the `switchyard_abi_version` export returns it.
pub const ABI_VERSION: i32 = 1;

/// Hook bit for routing, as returned by the `plugin_kinds` export.
pub const KIND_ROUTE: i32 = 1;
/// Hook bit for redaction, as returned by the `plugin_kinds` export.
pub const KIND_REDACT: i32 = 2;

/// Why a hook or `init` failed; the host applies the plugin's `on_error`
/// policy. The numbers are ABI v1's error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A generic failure inside the plugin (code 1).
    Failed = 1,
    /// The input record could not be decoded (code 2).
    BadInput = 2,
    /// The hook is exported but the plugin registered nothing for it (code 3).
    NotHandled = 3,
    /// `init` refused the plugin's config (code 4).
    BadConfig = 4,
}

/// A routing hook: read the request view and the upstream table, push the
/// indices of the chosen upstreams into the [`Decision`], best first. Pushing
/// nothing means "no opinion": the router's configured order applies.
pub type RouteFn = fn(req: &Request, ups: &[Upstream], out: &mut Decision);

/// A redaction hook: write the rewritten body into the [`Redaction`] with
/// [`Redaction::copy`] for kept text and [`Redaction::replace`] for every
/// redacted span. A call that replaces nothing leaves the body unchanged.
pub type RedactFn = fn(body: &[u8], out: &mut Redaction);

/// Receives the plugin's config (the YAML's `config` block, as JSON) once per
/// instance. An `Err` refuses the module at load; its message goes to the
/// host log.
pub type InitFn = fn(config: &[u8]) -> Result<(), &'static str>;

/// The ordered candidate list a routing hook returns: indices into the
/// upstream table, best first. Owned by the SDK and reused across calls.
pub struct Decision<'a> {
    buf: &'a mut alloc::vec::Vec<u32>,
    table_len: usize,
    bad: bool,
}

impl<'a> Decision<'a> {
    /// Wraps a reusable output buffer for a table of `table_len` rows; it is
    /// cleared first. The SDK calls this; tests of a hook can too.
    pub fn new(buf: &'a mut alloc::vec::Vec<u32>, table_len: usize) -> Decision<'a> {
        buf.clear();
        Decision { buf, table_len, bad: false }
    }

    /// Appends upstream `index` as the next candidate. An index outside the
    /// table fails the call (the host would refuse it anyway).
    pub fn push(&mut self, index: usize) {
        if index >= self.table_len {
            self.bad = true;
            return;
        }
        self.buf.push(index as u32);
    }

    /// Sorts the candidates by `cmp` on their table indices; candidates that
    /// compare equal keep table order. Allocates nothing.
    pub fn sort_by<F: FnMut(usize, usize) -> core::cmp::Ordering>(&mut self, mut cmp: F) {
        self.buf.sort_unstable_by(|&a, &b| cmp(a as usize, b as usize).then(a.cmp(&b)));
    }

    /// The number of candidates pushed so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Reports whether nothing was pushed ("no opinion").
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Returns candidate `i` (0 = primary).
    pub fn get(&self, i: usize) -> Option<usize> {
        self.buf.get(i).map(|&v| v as usize)
    }

    /// Removes every candidate.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Reports whether an out-of-range index was pushed.
    pub fn failed(&self) -> bool {
        self.bad
    }

    /// The candidates as the ABI's output: little-endian u32s, which is how
    /// Wasm stores a `u32` in memory.
    #[cfg(target_endian = "little")]
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: u32 has no padding and u8 has alignment 1.
        unsafe { core::slice::from_raw_parts(self.buf.as_ptr() as *const u8, self.buf.len() * 4) }
    }
}

/// Returns the index of the first `byte` in `hay`, like memchr: eight bytes
/// per step, which matters inside the host's CPU budget (fuel is charged per
/// loop iteration, so a byte-at-a-time scan of a 1 MiB body costs 8× more).
pub fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let rep = LO.wrapping_mul(byte as u64);
    let mut i = 0;
    while i + 8 <= hay.len() {
        // SAFETY: i + 8 <= len; read_unaligned has no alignment requirement.
        let w = u64::from_le(unsafe { core::ptr::read_unaligned(hay.as_ptr().add(i) as *const u64) }) ^ rep;
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while i < hay.len() {
        if hay[i] == byte {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A log level, the same numbers as Go's log/slog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Debug (-4).
    Debug = -4,
    /// Info (0).
    Info = 0,
    /// Warn (4).
    Warn = 4,
    /// Error (8).
    Error = 8,
}

/// Writes one line to the host's log (capped at 1 KiB by the host). Never log
/// request content: the host's logs must not hold prompts or PII.
pub fn log(level: Level, msg: &str) {
    rt::host_log(level as i32, msg.as_bytes());
}

/// Declares a plugin and generates its ABI v1 exports. Give the name and
/// version, and any of `route`, `redact` and `init` (functions of type
/// [`RouteFn`], [`RedactFn`] and [`InitFn`]):
///
/// ```ignore
/// switchyard::plugin! { name: "lowest-latency", version: "1.0.0", route: route }
/// switchyard::plugin! { name: "redact-email", version: "1.0.0", redact: redact, init: configure }
/// ```
///
/// Use it once, at the top level of a `cdylib` crate. The exports exist only
/// on wasm32, so `cargo test` on the host tests your hooks as plain functions.
#[macro_export]
macro_rules! plugin {
    (name: $name:expr, version: $version:expr
        $(, route: $route:path)? $(, redact: $redact:path)? $(, init: $init:path)? $(,)?) => {
        #[allow(dead_code)]
        static __SWITCHYARD_PLUGIN: $crate::rt::Plugin = $crate::rt::Plugin {
            name: $name,
            version: $version,
            route: $crate::__switchyard_opt!($($route)?),
            redact: $crate::__switchyard_opt!($($redact)?),
            init: $crate::__switchyard_opt!($($init)?),
        };

        #[cfg(target_arch = "wasm32")]
        #[export_name = "switchyard_abi_version"]
        pub extern "C" fn __switchyard_export_switchyard_abi_version() -> i32 {
            $crate::ABI_VERSION
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "alloc"]
        pub extern "C" fn __switchyard_export_alloc(size: i32) -> i32 {
            $crate::rt::alloc(size)
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "init"]
        pub extern "C" fn __switchyard_export_init(ptr: i32, len: i32) -> i32 {
            unsafe { $crate::rt::init(&__SWITCHYARD_PLUGIN, ptr, len) }
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "plugin_name"]
        pub extern "C" fn __switchyard_export_plugin_name() -> i64 {
            $crate::rt::pack_str(__SWITCHYARD_PLUGIN.name)
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "plugin_version"]
        pub extern "C" fn __switchyard_export_plugin_version() -> i64 {
            $crate::rt::pack_str(__SWITCHYARD_PLUGIN.version)
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "plugin_kinds"]
        pub extern "C" fn __switchyard_export_plugin_kinds() -> i32 {
            __SWITCHYARD_PLUGIN.kinds()
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "route"]
        pub extern "C" fn __switchyard_export_route(ptr: i32, len: i32) -> i64 {
            unsafe { $crate::rt::route(&__SWITCHYARD_PLUGIN, ptr, len) }
        }

        #[cfg(target_arch = "wasm32")]
        #[export_name = "redact"]
        pub extern "C" fn __switchyard_export_redact(ptr: i32, len: i32) -> i64 {
            unsafe { $crate::rt::redact(&__SWITCHYARD_PLUGIN, ptr, len) }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __switchyard_opt {
    () => {
        None
    };
    ($f:path) => {
        Some($f)
    };
}
