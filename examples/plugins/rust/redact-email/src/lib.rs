//! redact-email: a Switchyard redaction plugin in Rust. It replaces e-mail
//! addresses in the request body by <EMAIL_1>, <EMAIL_2>, … (the same address
//! keeps its placeholder); the router restores them in the answer. The
//! matcher is the one of examples/plugins/go/redact-email, byte for byte, so
//! both pass the same conformance vectors.
//!
//! Build: cargo build --release --target wasm32-unknown-unknown

use switchyard::Redaction;

fn redact(body: &[u8], out: &mut Redaction) {
    let mut last = 0;
    let mut i = 0;
    while i < body.len() {
        let at = match switchyard::find_byte(&body[i..], b'@') {
            Some(j) => i + j,
            None => break,
        };
        match email(body, at) {
            Some((start, end)) => {
                out.copy(&body[last..start]);
                out.replace("EMAIL", &body[start..end]);
                last = end;
                i = end;
            }
            None => i = at + 1,
        }
    }
    out.copy(&body[last..]);
}

/// Returns the bounds of the e-mail address around the '@' at `at`. It works
/// on JSON text: a backslash escape glued to the local part (\n, \u00e9, …)
/// is not part of the address.
fn email(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > 0 && is_local(b[start - 1]) {
        start -= 1;
    }
    if backslashes_before(b, start) % 2 == 1 {
        start += if b[start] == b'u' { 5 } else { 1 };
    }
    if start >= at {
        return None;
    }
    let mut end = at + 1;
    let mut last_dot = None;
    while end < b.len() && is_domain(b[end]) {
        if b[end] == b'.' {
            last_dot = Some(end);
        }
        end += 1;
    }
    while end > at + 1 && (b[end - 1] == b'.' || b[end - 1] == b'-') {
        end -= 1;
        if last_dot == Some(end) {
            last_dot = (at + 1..end).rev().find(|&j| b[j] == b'.');
        }
    }
    let dot = last_dot?;
    if dot <= at + 1 || end - dot < 3 {
        return None;
    }
    if b[dot + 1..end].iter().any(|&c| !(c | 0x20).is_ascii_lowercase()) {
        return None;
    }
    Some((start, end))
}

fn backslashes_before(b: &[u8], mut i: usize) -> usize {
    let mut n = 0;
    while i > 0 && b[i - 1] == b'\\' {
        n += 1;
        i -= 1;
    }
    n
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

switchyard::plugin! { name: "redact-email", version: "1.0.0", redact: redact }
