//! The runtime behind the exports `plugin!` generates. Not part of the API:
//! a plugin never calls these itself.

use alloc::vec::Vec;

use crate::record::{decode_redact, decode_route, UpstreamTable};
use crate::redaction::{RedactBuffers, Redaction};
use crate::{Decision, Error, InitFn, RedactFn, RouteFn, KIND_REDACT, KIND_ROUTE};

/// What `plugin!` declared.
pub struct Plugin {
    /// plugin_name.
    pub name: &'static str,
    /// plugin_version.
    pub version: &'static str,
    /// The route hook, if any.
    pub route: Option<RouteFn>,
    /// The redact hook, if any.
    pub redact: Option<RedactFn>,
    /// The config hook, if any.
    pub init: Option<InitFn>,
}

impl Plugin {
    /// The plugin_kinds bit set.
    pub fn kinds(&self) -> i32 {
        let mut k = 0;
        if self.route.is_some() {
            k |= KIND_ROUTE;
        }
        if self.redact.is_some() {
            k |= KIND_REDACT;
        }
        k
    }
}

/// Per-instance state, reused across calls. Why a `static mut`? A Wasm
/// instance is single-threaded and serves one call at a time (docs/abi.md §2),
/// so there is never a second reference.
struct State {
    table: UpstreamTable,
    decision: Vec<u32>,
    redact: RedactBuffers,
}

static mut STATE: State =
    State { table: UpstreamTable::new(), decision: Vec::new(), redact: RedactBuffers::new() };

/// The `alloc` export: a buffer that lives as long as the instance.
pub fn alloc(size: i32) -> i32 {
    if size < 0 {
        return 0;
    }
    let mut v: Vec<u8> = Vec::with_capacity(size.max(1) as usize);
    let p = v.as_mut_ptr();
    core::mem::forget(v);
    p as usize as i32
}

/// Packs a static string's pointer and length.
pub fn pack_str(s: &'static str) -> i64 {
    pack(s.as_ptr(), s.len())
}

fn pack(p: *const u8, n: usize) -> i64 {
    ((p as usize as u64) << 32 | n as u64) as i64
}

unsafe fn input<'a>(ptr: i32, len: i32) -> &'a [u8] {
    if len <= 0 {
        return &[];
    }
    core::slice::from_raw_parts(ptr as usize as *const u8, len as usize)
}

/// The `init` export.
///
/// # Safety
/// ptr/len must describe memory the host wrote (it does).
pub unsafe fn init(p: &Plugin, ptr: i32, len: i32) -> i32 {
    match p.init {
        None => 0,
        Some(f) => match f(input(ptr, len)) {
            Ok(()) => 0,
            Err(msg) => {
                host_log(crate::Level::Error as i32, msg.as_bytes());
                Error::BadConfig as i32
            }
        },
    }
}

/// The `route` export.
///
/// # Safety
/// ptr/len must describe the input record the host wrote.
pub unsafe fn route(p: &Plugin, ptr: i32, len: i32) -> i64 {
    let f = match p.route {
        Some(f) => f,
        None => return -(Error::NotHandled as i64),
    };
    let st = &mut *core::ptr::addr_of_mut!(STATE);
    let (req, ups) = match decode_route(input(ptr, len), &mut st.table) {
        Ok(v) => v,
        Err(e) => return -(e as i64),
    };
    let mut d = Decision::new(&mut st.decision, ups.len());
    f(&req, ups, &mut d);
    if d.failed() {
        host_log(crate::Level::Error as i32, b"route: index out of range");
        return -(Error::Failed as i64);
    }
    let out = d.bytes();
    if out.is_empty() {
        return 0;
    }
    pack(out.as_ptr(), out.len())
}

/// The `redact` export.
///
/// # Safety
/// ptr/len must describe the input record the host wrote.
pub unsafe fn redact(p: &Plugin, ptr: i32, len: i32) -> i64 {
    let f = match p.redact {
        Some(f) => f,
        None => return -(Error::NotHandled as i64),
    };
    let st = &mut *core::ptr::addr_of_mut!(STATE);
    let (body, taken) = match decode_redact(input(ptr, len)) {
        Ok(v) => v,
        Err(e) => return -(e as i64),
    };
    let mut r = Redaction::new(&mut st.redact, taken);
    f(body, &mut r);
    match r.finish() {
        None => 0,
        Some(out) => pack(out.as_ptr(), out.len()),
    }
}

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "switchyard")]
extern "C" {
    #[link_name = "log"]
    fn switchyard_log(level: i32, ptr: *const u8, len: u32);
}

/// Sends one line to the host log (a no-op off Wasm, for host tests).
pub fn host_log(level: i32, msg: &[u8]) {
    #[cfg(target_arch = "wasm32")]
    unsafe {
        switchyard_log(level, msg.as_ptr(), msg.len() as u32)
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (level, msg);
}
