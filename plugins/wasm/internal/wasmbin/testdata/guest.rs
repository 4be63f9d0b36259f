// Rust guest for the wasmbin round-trip and fuel tests.
// Built with: /usr/bin/rustc --target wasm32-unknown-unknown --crate-type cdylib -O -o rust.wasm guest.rs
#![no_std]

use core::panic::PanicInfo;

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

static mut BUF: [u8; 65536] = [0; 65536];

#[no_mangle]
pub extern "C" fn buffer() -> *mut u8 {
    unsafe { BUF.as_mut_ptr() }
}

/// checksum is an Adler-like sum over BUF[0..n].
#[no_mangle]
pub extern "C" fn checksum(n: u32) -> u32 {
    let n = core::cmp::min(n as usize, 65536);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in unsafe { &BUF[..n] } {
        a = a.wrapping_add(x as u32);
        b = b.wrapping_add(a);
    }
    a ^ (b << 16)
}

#[no_mangle]
pub extern "C" fn fib(n: u32) -> u32 {
    if n < 2 { n } else { fib(n - 1).wrapping_add(fib(n - 2)) }
}

/// words counts ASCII-whitespace separated words, with iterator code and bounds checks.
#[no_mangle]
pub extern "C" fn words(n: u32) -> u32 {
    let n = core::cmp::min(n as usize, 65536);
    let s = unsafe { &BUF[..n] };
    s.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty()).count() as u32
}

/// float does some float→int conversions (saturating in Rust).
#[no_mangle]
pub extern "C" fn float(x: f64) -> i64 {
    (x * 1.5) as i64 + (x as f32 * 0.5) as i32 as i64
}
