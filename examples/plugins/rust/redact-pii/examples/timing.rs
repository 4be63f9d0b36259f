//! Native throughput of the engine on a body file, for comparing with the Wasm
//! figures of plugins/piitest (where the time goes):
//!
//!     /usr/bin/cargo run --release --target x86_64-unknown-linux-gnu --example timing -- body.json '{}'

use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let cfg = std::env::args().nth(2).unwrap_or("{}".into());
    let body = std::fs::read(path).unwrap();
    let mut e = redact_pii::engine::Engine::new(cfg.as_bytes()).unwrap();
    let mut out = Vec::new();
    let n = 50;
    let t = Instant::now();
    for _ in 0..n { out.clear(); e.redact(&body, std::iter::empty(), &mut out).unwrap(); }
    let el = t.elapsed().as_secs_f64() / n as f64;
    println!("{:.1} MB/s, {:.1} us/op, pairs {}", body.len() as f64 / el / 1e6, el * 1e6, e.pairs().len());
}
