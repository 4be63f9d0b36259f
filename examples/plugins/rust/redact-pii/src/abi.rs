//! ABI v1 glue (docs/abi.md, plugins/abi): the exports a redaction plugin
//! needs, written directly against the spec. This is the one file to replace
//! when the Rust SDK (sdk/rust) lands: the SDK then owns alloc, init, the
//! record decoding and encoding, and this file shrinks to registering
//! `Engine::new` as the init function and a redact handler that calls
//! `Engine::redact` and hands the SDK's vault each `engine.pairs()` entry.
//!
//! Exports: switchyard_abi_version, memory (by rustc), alloc, init,
//! plugin_name, plugin_version, plugin_kinds, redact. No imports.

use crate::engine::Engine;

const NAME: &str = "redact-pii";
const VERSION: &str = env!("CARGO_PKG_VERSION");

// Error codes (plugins/abi).
const ERR_FAILED: i64 = 1;
const ERR_BAD_INPUT: i64 = 2;
const ERR_BAD_CONFIG: i32 = 4;

/// Per-instance state. An instance serves one call at a time and Wasm here
/// is single-threaded, so plain statics behind one accessor are sound.
struct State {
    engine: Option<Engine>,
    /// Buffers handed to the host with alloc: each must stay valid for the
    /// instance's life (the host stops using one when it asks for a bigger).
    allocs: Vec<Box<[u8]>>,
    /// The last output record, read by the host after redact returns.
    out: Vec<u8>,
}

static mut STATE: State = State { engine: None, allocs: Vec::new(), out: Vec::new() };

fn state() -> &'static mut State {
    // SAFETY: single-threaded guest, one host call at a time, and no call
    // keeps the reference across another export's call.
    unsafe { &mut *core::ptr::addr_of_mut!(STATE) }
}

fn pack(ptr: *const u8, len: usize) -> i64 {
    ((ptr as u32 as i64) << 32) | len as u32 as i64
}

#[no_mangle]
pub extern "C" fn switchyard_abi_version() -> i32 {
    1
}

#[no_mangle]
pub extern "C" fn alloc(size: i32) -> i32 {
    if size < 0 {
        return 0;
    }
    let b = vec![0u8; size as usize].into_boxed_slice();
    let p = b.as_ptr() as i32;
    state().allocs.push(b);
    p
}

#[no_mangle]
pub extern "C" fn init(ptr: i32, len: i32) -> i32 {
    let cfg = unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len as usize) };
    match Engine::new(cfg) {
        Ok(e) => {
            state().engine = Some(e);
            0
        }
        Err(_) => ERR_BAD_CONFIG,
    }
}

#[no_mangle]
pub extern "C" fn plugin_name() -> i64 {
    pack(NAME.as_ptr(), NAME.len())
}

#[no_mangle]
pub extern "C" fn plugin_version() -> i64 {
    pack(VERSION.as_ptr(), VERSION.len())
}

#[no_mangle]
pub extern "C" fn plugin_kinds() -> i32 {
    2 // redact
}

/// Reads the ABI's little-endian u32 and length-prefixed strings with
/// bounds checks.
struct Reader<'a> {
    b: &'a [u8],
    off: usize,
}

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let s = self.b.get(self.off..self.off + 4)?;
        self.off += 4;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        let s = self.b.get(self.off..self.off.checked_add(n)?)?;
        self.off += n;
        Some(s)
    }
}

/// redact: input `u32 flags, string body, u32 taken_count, taken × string`;
/// output `string body, u32 pair_count, pairs × {string placeholder, string
/// original}`, or length 0 when nothing matched.
#[no_mangle]
pub extern "C" fn redact(ptr: i32, len: i32) -> i64 {
    let rec = unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len as usize) };
    let st = state();
    let engine = match st.engine.as_mut() {
        Some(e) => e,
        None => return -ERR_FAILED,
    };
    let mut r = Reader { b: rec, off: 0 };
    let body = match (r.u32(), r.bytes()) {
        (Some(_flags), Some(b)) => b,
        _ => return -ERR_BAD_INPUT,
    };
    let taken_count = match r.u32() {
        Some(n) => n,
        None => return -ERR_BAD_INPUT,
    };
    let taken_at = r.off;
    for _ in 0..taken_count {
        if r.bytes().is_none() {
            return -ERR_BAD_INPUT;
        }
    }
    let mut tr = Reader { b: rec, off: taken_at };
    let taken = (0..taken_count).filter_map(move |_| tr.bytes());

    let out = &mut st.out;
    out.clear();
    out.extend_from_slice(&[0; 4]);
    match engine.redact(body, taken, out) {
        Ok(true) => {}
        Ok(false) => return 0,
        Err(_) => return -ERR_BAD_INPUT,
    }
    let n = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&n.to_le_bytes());
    let pairs = engine.pairs();
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for i in 0..pairs.len() {
        let (ph, orig) = pairs.get(i);
        out.extend_from_slice(&(ph.len() as u32).to_le_bytes());
        out.extend_from_slice(ph);
        out.extend_from_slice(&(orig.len() as u32).to_le_bytes());
        out.extend_from_slice(orig);
    }
    pack(out.as_ptr(), out.len())
}
