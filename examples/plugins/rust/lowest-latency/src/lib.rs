//! lowest-latency: a Switchyard routing plugin in Rust. It answers with the
//! healthy upstreams ordered by EWMA time to first byte (ties: fewer attempts
//! in flight, then table order), or no opinion when none is healthy.
//!
//! Build: cargo build --release --target wasm32-unknown-unknown

use switchyard::{Decision, Request, Upstream};

fn route(_req: &Request, ups: &[Upstream], out: &mut Decision) {
    for (i, u) in ups.iter().enumerate() {
        if u.healthy {
            out.push(i);
        }
    }
    out.sort_by(|a, b| {
        let (a, b) = (&ups[a], &ups[b]);
        a.ttfb_us.cmp(&b.ttfb_us).then(a.in_flight.cmp(&b.in_flight))
    });
}

switchyard::plugin! { name: "lowest-latency", version: "1.0.0", route: route }
