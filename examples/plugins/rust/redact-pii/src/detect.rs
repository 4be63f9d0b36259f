//! Built-in detectors: one left-to-right pass over a decoded string value.
//!
//! Why hand-written scanners and not one big regex? Speed and precision. The
//! pass looks at every byte once through a 256-entry class table and only
//! runs a detector where an entity can start (a word start, `@`, `+`, `(`,
//! `-----`, `::`), and each detector validates what a regex cannot say:
//! Luhn for cards, mod-97 and country lengths for IBANs, SSN areas, octet
//! ranges for IPv4, group shapes for phone numbers (so that dates, times,
//! ISBNs and money survive). See docs/RATIONALE.md "Why hand-written
//! detectors in the PII plugin?".

use crate::engine::{Kind, Span};

// Byte classes.
const WORD: u8 = 1; // [A-Za-z0-9_]
const DIGIT: u8 = 2; // [0-9]
const HEX: u8 = 4; // [0-9A-Fa-f]
const TRIG: u8 = 8; // punctuation that can start an entity: @ + ( - :
const KEY: u8 = 16; // token characters of API keys: [A-Za-z0-9_-]
const LOCAL: u8 = 32; // ASCII e-mail local part: [A-Za-z0-9._%+'-]
const ALPHA: u8 = 64; // [A-Za-z]
const ANCHOR: u8 = 128; // where next_anchor stops

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let mut k = 0u8;
        let alpha = (b >= b'a' && b <= b'z') || (b >= b'A' && b <= b'Z');
        let digit = b >= b'0' && b <= b'9';
        if alpha || digit || b == b'_' {
            k |= WORD | KEY;
        }
        if alpha {
            k |= ALPHA;
        }
        if digit {
            k |= DIGIT;
        }
        if digit || (b >= b'a' && b <= b'f') || (b >= b'A' && b <= b'F') {
            k |= HEX;
        }
        if b == b'@' || b == b'+' || b == b'(' || b == b'-' || b == b':' {
            k |= TRIG;
        }
        if b == b'-' {
            k |= KEY;
        }
        if (b >= b'0' && b <= b':') || (b >= b'@' && b <= b'_') || b == b'(' || b == b'+' || b == b'-' {
            k |= ANCHOR;
        }
        if alpha || digit || b == b'.' || b == b'_' || b == b'%' || b == b'+' || b == b'-' || b == b'\'' {
            k |= LOCAL;
        }
        t[c] = k;
        c += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

#[inline(always)]
fn class(b: u8) -> u8 {
    CLASS[b as usize]
}

#[inline(always)]
fn is(t: &[u8], i: usize, k: u8) -> bool {
    i < t.len() && class(t[i]) & k != 0
}

#[inline(always)]
fn digit(b: u8) -> bool {
    b.wrapping_sub(b'0') < 10
}

/// Which built-in entity kinds are on.
#[derive(Clone, Copy, Default)]
pub struct Enabled {
    pub email: bool,
    pub phone: bool,
    pub card: bool,
    pub iban: bool,
    pub ssn: bool,
    pub ip: bool,
    pub jwt: bool,
    pub secret: bool,
}

impl Enabled {
    pub fn any(&self) -> bool {
        self.email || self.phone || self.card || self.iban || self.ssn || self.ip || self.jwt || self.secret
    }
    /// Whether some detector starts at a digit run.
    fn numeric(&self) -> bool {
        self.phone || self.card || self.ssn || self.ip
    }
}

/// Scans t and appends the spans of built-in entities to out, in order and
/// without overlaps.
pub fn scan(on: &Enabled, t: &[u8], out: &mut Vec<Span>) {
    let n = t.len();
    let mut done = 0; // every byte before done has been looked at
    let mut k = 0;
    loop {
        k = next_anchor(t, k);
        if k >= n {
            return;
        }
        let c = t[k];
        if class(c) & WORD != 0 {
            // An anchor inside a word (a digit, an upper-case letter, '_'):
            // the word is looked at once, from its start.
            let mut s = k;
            while s > done && class(t[s - 1]) & WORD != 0 {
                s -= 1;
            }
            let mut j = k + 1;
            while j < n && class(t[j]) & WORD != 0 {
                j += 1;
            }
            let e = match word(on, t, s, j) {
                Some((s, e, kind)) => {
                    push(out, s, e, kind);
                    e
                }
                None => card_shaped_end(t, s).unwrap_or(j),
            };
            done = e;
            k = e;
            continue;
        }
        if c == b'\\' {
            // JSON inside a JSON string (tool call arguments) keeps its own
            // escapes after one decoding: "\u003cbob@x.com\u003e". An escape
            // separates words like punctuation does.
            k += escape_len(t, k).max(1);
            done = k;
            continue;
        }
        // A lower-case word just before punctuation: "sk-…", "xoxb-…", "fe80::".
        if k > done && class(t[k - 1]) & WORD != 0 {
            let mut s = k - 1;
            while s > done && class(t[s - 1]) & WORD != 0 {
                s -= 1;
            }
            if let Some((s, e, kind)) = word(on, t, s, k) {
                push(out, s, e, kind);
                done = e;
                k = e;
                continue;
            }
        }
        if let Some((s, e, kind)) = punct(on, t, k) {
            push(out, s, e, kind);
            done = e;
            k = e;
            continue;
        }
        k += 1;
        done = k;
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes in (m, n), for ASCII bytes (a bit-twiddling classic).
#[inline(always)]
fn between(x: u64, m: u64, n: u64) -> u64 {
    let low = x & (ONES * 127);
    ((ONES * (127 + n)).wrapping_sub(low) & !x & (low + ONES * (127 - m))) & HIGH
}

#[inline(always)]
fn has_byte(x: u64, b: u8) -> u64 {
    let v = x ^ (ONES * b as u64);
    v.wrapping_sub(ONES) & !v & HIGH
}

/// next_anchor returns the first position from i where an entity can be
/// recognised: a digit or ':', '@', an upper-case letter, '[', '\\', ']',
/// '^', '_', '(', '+' or '-'. Prose between anchors (lower-case letters,
/// spaces, most punctuation, non-ASCII text) is skipped eight bytes at a
/// time. Why? In Wasm every instruction counts; see docs/RATIONALE.md.
#[inline]
fn next_anchor(t: &[u8], mut i: usize) -> usize {
    while i + 8 <= t.len() {
        let x = u64::from_le_bytes([t[i], t[i + 1], t[i + 2], t[i + 3], t[i + 4], t[i + 5], t[i + 6], t[i + 7]]);
        let a = between(x, 0x2F, 0x3B) | between(x, 0x3F, 0x60) | has_byte(x, b'(') | has_byte(x, b'+') | has_byte(x, b'-');
        if a != 0 {
            break;
        }
        i += 8;
    }
    while i < t.len() && class(t[i]) & ANCHOR == 0 {
        i += 1;
    }
    i
}

/// push appends a span; an e-mail found by looking back from its `@` may
/// cover spans found before it (a digit run in its local part): those give
/// way and the e-mail grows over them.
fn push(out: &mut Vec<Span>, mut s: usize, e: usize, kind: Kind) {
    while let Some(last) = out.last() {
        if (last.end as usize) <= s {
            break;
        }
        s = s.min(last.start as usize);
        out.pop();
    }
    out.push(Span { start: s as u32, end: e as u32, kind });
}

/// Detectors that start at punctuation.
fn punct(on: &Enabled, t: &[u8], i: usize) -> Option<(usize, usize, Kind)> {
    match t[i] {
        b'@' if on.email => email(t, i).map(|(s, e)| (s, e, Kind::Email)),
        b'+' if on.phone && is(t, i + 1, DIGIT) && !before_is_word(t, i) => {
            numeric(on, t, i).filter(|m| m.2 == Kind::Phone)
        }
        b'(' if on.phone && is(t, i + 1, DIGIT) && !before_is_word(t, i) => {
            numeric(on, t, i).filter(|m| m.2 == Kind::Phone)
        }
        b'-' if on.secret && t[i..].starts_with(b"-----BEGIN ") => pem(t, i).map(|e| (i, e, Kind::Secret)),
        b':' if on.ip && i + 1 < t.len() && t[i + 1] == b':' && !before_is(t, i, HEX | WORD) => {
            ipv6(t, i).map(|e| (i, e, Kind::Ip))
        }
        _ => None,
    }
}

fn before_is_word(t: &[u8], i: usize) -> bool {
    before_is(t, i, WORD)
}

fn before_is(t: &[u8], i: usize, k: u8) -> bool {
    i > 0 && class(t[i - 1]) & k != 0 && !escape_ends_at(t, i)
}

/// escape_len returns the length of the JSON escape at i ("\n", "\u00e9"),
/// or 0.
pub fn escape_len(t: &[u8], i: usize) -> usize {
    match t.get(i + 1) {
        Some(b'n' | b'r' | b't' | b'b' | b'f' | b'"' | b'\\' | b'/') => 2,
        Some(b'u') if t.len() >= i + 6 && t[i + 2..i + 6].iter().all(|&b| class(b) & HEX != 0) => 6,
        _ => 0,
    }
}

/// escape_ends_at reports whether a JSON escape ends just before i.
pub fn escape_ends_at(t: &[u8], i: usize) -> bool {
    (i >= 6 && t[i - 6] == b'\\' && escape_len(t, i - 6) == 6) || (i >= 2 && t[i - 2] == b'\\' && escape_len(t, i - 2) == 2 && !(i >= 3 && t[i - 3] == b'\\'))
}

/// Detectors that start at a word [i, j).
fn word(on: &Enabled, t: &[u8], i: usize, j: usize) -> Option<(usize, usize, Kind)> {
    let w = &t[i..j];
    let c = w[0];
    if digit(c) {
        // "2001:db8::1" starts with digits too.
        if on.ip && j - i <= 4 && j < t.len() && t[j] == b':' && all(w, HEX) {
            if let Some(e) = ipv6(t, i) {
                return Some((i, e, Kind::Ip));
            }
        }
        if on.numeric() && !continues_token(t, i) {
            return numeric(on, t, i);
        }
        return None;
    }
    if on.ip && j - i <= 4 && j < t.len() && t[j] == b':' && all(w, HEX) && !continues_token(t, i) {
        if let Some(e) = ipv6(t, i) {
            return Some((i, e, Kind::Ip));
        }
    }
    if on.jwt && w.starts_with(b"eyJ") {
        if let Some(e) = jwt(t, i) {
            return Some((i, e, Kind::Jwt));
        }
    }
    if on.secret {
        if let Some(e) = secret(t, i, j) {
            return Some((i, e, Kind::Secret));
        }
    }
    if on.iban && w.len() >= 4 && class(w[0]) & ALPHA != 0 && class(w[1]) & ALPHA != 0 && digit(w[2]) && digit(w[3]) {
        if let Some(e) = iban(t, i, j) {
            return Some((i, e, Kind::Iban));
        }
    }
    None
}

fn all(w: &[u8], k: u8) -> bool {
    w.iter().all(|&b| class(b) & k != 0)
}

/// continues_token reports whether position i continues a token glued by
/// `-`, `.` or `/` to an alphanumeric before it ("ORD-2125550123", the "2" of
/// "1.2.3"): such digits belong to an identifier, not to an entity.
fn continues_token(t: &[u8], i: usize) -> bool {
    if i == 0 || escape_ends_at(t, i) {
        return false;
    }
    let p = t[i - 1];
    if class(p) & WORD != 0 {
        return true;
    }
    (p == b'-' || p == b'.' || p == b'/' || p == b'#') && i >= 2 && class(t[i - 2]) & WORD != 0
}

// ---------------------------------------------------------------- e-mail

/// email returns the bounds of the address around the `@` at `at`.
/// Internationalised addresses are accepted: non-ASCII letters of the Latin,
/// Greek and Cyrillic blocks in the local part, any non-ASCII letter in the
/// domain (IDN), a non-ASCII or punycode top-level domain.
fn email(t: &[u8], at: usize) -> Option<(usize, usize)> {
    // Local part, backwards.
    let mut s = at;
    while s > 0 && !escape_ends_at(t, s) {
        let b = t[s - 1];
        if b < 0x80 {
            if class(b) & LOCAL == 0 {
                break;
            }
            s -= 1;
            continue;
        }
        let (ch, start) = char_before(t, s)?;
        if !local_letter(ch) {
            break;
        }
        s = start;
    }
    while s < at && (t[s] == b'.' || t[s] == b'\'' || t[s] == b'-' || t[s] == b'+') {
        s += 1;
    }
    if s >= at {
        return None;
    }
    // Domain: labels separated by single dots.
    let n = t.len();
    let mut e = at + 1;
    let mut labels = 0;
    let mut last_label = e;
    loop {
        let ls = e;
        while e < n {
            let b = t[e];
            if b < 0x80 {
                if class(b) & WORD != 0 && b != b'_' || b == b'-' {
                    e += 1;
                    continue;
                }
                break;
            }
            match char_at(t, e) {
                Some((ch, len)) if domain_letter(ch) => e += len,
                _ => break,
            }
        }
        // A label does not end with '-'.
        while e > ls && t[e - 1] == b'-' {
            e -= 1;
        }
        if e == ls {
            break;
        }
        labels += 1;
        last_label = ls;
        if e + 1 < n && t[e] == b'.' && (class(t[e + 1]) & WORD != 0 || t[e + 1] >= 0x80) {
            e += 1;
            continue;
        }
        break;
    }
    if labels < 2 {
        return None;
    }
    let tld = &t[last_label..e];
    let e = last_label + tld_len(tld)?;
    Some((s, e))
}

/// tld_len validates a top-level domain and returns how much of it is one: a
/// label that switches from ASCII letters to another script ("jpです") ends
/// at the switch.
fn tld_len(tld: &[u8]) -> Option<usize> {
    if tld.starts_with(b"xn--") && tld.len() > 5 {
        return Some(tld.len());
    }
    let ascii = tld.iter().take_while(|&&b| b < 0x80).count();
    if ascii == 0 {
        return Some(tld.len()); // an IDN top-level domain (.рф, .中国)
    }
    let letters = tld[..ascii].iter().take_while(|&&b| class(b) & ALPHA != 0).count();
    if letters == ascii && ascii >= 2 && ascii <= 24 {
        return Some(ascii);
    }
    None
}

fn local_letter(c: char) -> bool {
    let u = c as u32;
    (0xC0..=0x24F).contains(&u) && u != 0xD7 && u != 0xF7 || (0x370..=0x52F).contains(&u)
}

fn domain_letter(c: char) -> bool {
    let u = c as u32;
    // CJK punctuation and full-width forms end a domain (IDNA maps some of
    // them to dots, but in running text they are sentence punctuation).
    if (0x3000..=0x303F).contains(&u) || (0xFF00..=0xFFEF).contains(&u) || (0x2000..=0x206F).contains(&u) {
        return false;
    }
    c.is_alphanumeric()
}

/// char_at decodes the UTF-8 character starting at i.
fn char_at(t: &[u8], i: usize) -> Option<(char, usize)> {
    let b = t[i];
    let len = if b < 0x80 {
        1
    } else if b >= 0xF0 {
        4
    } else if b >= 0xE0 {
        3
    } else if b >= 0xC0 {
        2
    } else {
        return None;
    };
    let s = core::str::from_utf8(t.get(i..i + len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

/// char_before decodes the UTF-8 character that ends at i.
fn char_before(t: &[u8], i: usize) -> Option<(char, usize)> {
    let mut s = i - 1;
    while s > 0 && i - s < 4 && t[s] & 0xC0 == 0x80 {
        s -= 1;
    }
    let (c, len) = char_at(t, s)?;
    if s + len != i {
        return None;
    }
    Some((c, s))
}

// ---------------------------------------------------------- digit runs

/// A run of digit groups with separators: "+44 (0)20 7946 0958".
struct Run {
    n: usize,         // groups
    len: [u8; 10],    // digits per group
    sep: [u8; 10],    // separator before group g (0 for the first, b'(' for a parenthesised group)
    end: [usize; 10], // end of group g in t (after a closing parenthesis)
    digits: [u8; 24], // the first 24 digits
    total: usize,     // digits in all groups
}

impl Run {
    fn digits_upto(&self, groups: usize) -> usize {
        self.len[..groups].iter().map(|&l| l as usize).sum()
    }
    fn seps(&self, groups: usize) -> &[u8] {
        &self.sep[1..groups]
    }
}

/// run reads digit groups from i (at a digit, `+` or `(`).
fn run(t: &[u8], mut i: usize) -> Run {
    let n = t.len();
    let mut r = Run { n: 0, len: [0; 10], sep: [0; 10], end: [0; 10], digits: [0; 24], total: 0 };
    if t[i] == b'+' {
        i += 1;
    }
    let mut sep = 0u8;
    while r.n < 10 {
        let paren = i < n && t[i] == b'(';
        let mut p = if paren { i + 1 } else { i };
        let ds = p;
        while p < n && digit(t[p]) && p - ds < 20 {
            if r.total < 24 {
                r.digits[r.total] = t[p] - b'0';
            }
            r.total += 1;
            p += 1;
        }
        if p == ds {
            break;
        }
        let gl = p - ds;
        if paren {
            if p >= n || t[p] != b')' || gl > 4 {
                r.total -= gl;
                break;
            }
            p += 1;
        }
        r.len[r.n] = gl as u8;
        r.sep[r.n] = if paren { b'(' } else { sep };
        r.end[r.n] = p;
        r.n += 1;
        // Separator to the next group.
        if p < n && (t[p] == b' ' || t[p] == b'-' || t[p] == b'.' || t[p] == b'/') && p + 1 < n && (digit(t[p + 1]) || t[p + 1] == b'(') {
            sep = t[p];
            i = p + 1;
        } else if p < n && t[p] == b'(' && paren == false && p + 1 < n && digit(t[p + 1]) {
            sep = b'(';
            i = p;
        } else if paren && p < n && digit(t[p]) {
            sep = b')';
            i = p;
        } else {
            break;
        }
        if r.total > 24 {
            break;
        }
    }
    r
}

/// numeric classifies the digit run at i: IPv4, SSN, card or phone. When the
/// whole run is none of them, shorter runs cut at a space are tried (a phone
/// number followed by another number).
fn numeric(on: &Enabled, t: &[u8], i: usize) -> Option<(usize, usize, Kind)> {
    let plus = t[i] == b'+';
    let r = run(t, i);
    if r.n == 0 {
        return None;
    }
    let mut g = r.n;
    // "2024-01-15 10:30": a group followed by ":<digit>" is an hour.
    let colon = |e: usize| e + 1 < t.len() && t[e] == b':' && digit(t[e + 1]);
    loop {
        let e = r.end[g - 1];
        let glued = is(t, e, WORD) || (e < t.len() && t[e] == b'@');
        // "10.0.0.1:8080": an address keeps its port, which stays.
        if on.ip && !plus && g == 4 && g == r.n && !glued && r.seps(4).iter().all(|&s| s == b'.') && r.sep[0] != b'(' && ipv4(&r) {
            return Some((i, e, Kind::Ip));
        }
        if !glued && !colon(e) {
            if let Some(kind) = classify(on, &r, g, plus, t, i) {
                return Some((i, e, kind));
            }
        }
        // Try the run cut before its last space-separated group.
        loop {
            g -= 1;
            if g == 0 {
                return None;
            }
            if r.sep[g] == b' ' {
                break;
            }
        }
    }
}

/// card_shaped_end returns the end of a run at i laid out like a card number
/// ("6508 0670 4412 5578") that is not one (its Luhn check failed): it is
/// skipped whole, so that its tail is not read as a phone number.
fn card_shaped_end(t: &[u8], i: usize) -> Option<usize> {
    if !digit(t[i]) {
        return None;
    }
    let r = run(t, i);
    let g = r.n;
    if g < 2 || !(13..=19).contains(&r.total) {
        return None;
    }
    let s = r.sep[1];
    let uniform = (s == b' ' || s == b'-') && r.seps(g).iter().all(|&x| x == s);
    let fours = r.len[..g - 1].iter().all(|&x| x == 4) && r.len[g - 1] <= 4;
    if uniform && fours {
        Some(r.end[g - 1])
    } else {
        None
    }
}

fn classify(on: &Enabled, r: &Run, g: usize, plus: bool, t: &[u8], s: usize) -> Option<Kind> {
    let d = r.digits_upto(g);
    let seps = r.seps(g);
    if plus {
        return if on.phone && e164(r, g, d) { Some(Kind::Phone) } else { None };
    }
    if seps.iter().any(|&s| s == b'.') {
        // Dots only ever separate a phone number's groups all the way
        // (06.12.34.56.78, 212.555.0123), never mixed with other separators.
        if !seps.iter().all(|&s| s == b'.') || r.sep[0] == b'(' {
            return None;
        }
    }
    if on.ssn && g == 3 && d == 9 && ssn(r, seps) {
        return Some(Kind::Ssn);
    }
    if on.card && (13..=19).contains(&d) && d <= 24 && card(r, g, d, seps) {
        return Some(Kind::Card);
    }
    if on.phone && national(r, g, d, seps) && !isbn_context(t, s) {
        return Some(Kind::Phone);
    }
    None
}

/// isbn_context reports an "ISBN" label in the 12 bytes before a digit run
/// at s: ISBN-10s look like trunk-prefixed phone numbers ("0-306-40615-2"
/// is refused by its groups, "0306406152" is not).
fn isbn_context(t: &[u8], s: usize) -> bool {
    let w = &t[s.saturating_sub(12)..s];
    w.windows(4).any(|x| x.eq_ignore_ascii_case(b"isbn"))
}

fn ipv4(r: &Run) -> bool {
    let mut k = 0;
    for g in 0..4 {
        let l = r.len[g] as usize;
        if l == 0 || l > 3 || (l > 1 && r.digits[k] == 0) {
            return false;
        }
        let mut v = 0u32;
        for x in 0..l {
            v = v * 10 + r.digits[k + x] as u32;
        }
        if v > 255 {
            return false;
        }
        k += l;
    }
    true
}

fn ssn(r: &Run, seps: &[u8]) -> bool {
    if r.len[0] != 3 || r.len[1] != 2 || r.len[2] != 4 || seps[0] != seps[1] || (seps[0] != b'-' && seps[0] != b' ') {
        return false;
    }
    let d = &r.digits;
    let area = d[0] as u32 * 100 + d[1] as u32 * 10 + d[2] as u32;
    let group = d[3] * 10 + d[4];
    let serial = d[5] as u32 * 1000 + d[6] as u32 * 100 + d[7] as u32 * 10 + d[8] as u32;
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

fn card(r: &Run, g: usize, d: usize, seps: &[u8]) -> bool {
    if !(2..=6).contains(&r.digits[0]) {
        return false;
    }
    if g > 1 {
        let s = seps[0];
        if (s != b' ' && s != b'-') || seps.iter().any(|&x| x != s) {
            return false;
        }
        let l = &r.len[..g];
        let fours = l[..g - 1].iter().all(|&x| x == 4) && l[g - 1] >= 1 && l[g - 1] <= 4;
        let amex = g == 3 && l[0] == 4 && l[1] == 6 && (l[2] == 5 || l[2] == 4);
        if !fours && !amex {
            return false;
        }
    }
    luhn(&r.digits[..d])
}

/// luhn checks the Luhn (mod 10) check digit.
pub fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &x) in d.iter().rev().enumerate() {
        let mut v = x as u32;
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn e164(r: &Run, g: usize, d: usize) -> bool {
    // Up to 15 digits after "+" (ITU-T E.164); "+44 (0)20 …" writes the
    // trunk zero that is not dialled, one more.
    let _ = g;
    r.digits[0] != 0 && (8..=16).contains(&d)
}

/// national accepts the national formats of US/CA (NANP), UK, DE, FR, IN,
/// BR and JP, with or without separators.
fn national(r: &Run, g: usize, d: usize, seps: &[u8]) -> bool {
    let l = &r.len[..g];
    let dg = &r.digits;
    let paren0 = r.sep[0] == b'(';
    if seps.iter().filter(|&&s| s == b'/').count() > 1 {
        return false;
    }
    // 00 + country code: the international prefix written out.
    if dg[0] == 0 && dg[1] == 0 {
        return dg[2] != 0 && (11..=17).contains(&d) && l[0] >= 2 && l[1..].iter().all(|&x| x >= 1);
    }
    // Trunk prefix 0 (UK, DE, FR, IN, BR, JP): 0 + area + subscriber.
    if dg[0] == 0 {
        if !(10..=12).contains(&d) {
            return false;
        }
        if g == 1 {
            return d <= 11;
        }
        return (2..=6).contains(&l[0]) && l[1..].iter().all(|&x| x >= 2 && x <= 8) && (!paren0 || l[0] <= 5);
    }
    // NANP: [1] NXX NXX XXXX.
    let nanp = |o: usize| dg[o] >= 2 && dg[o + 3] >= 2;
    if d == 10 && nanp(0) && (g == 1 || l == [3, 3, 4]) {
        return true;
    }
    if d == 11 && dg[0] == 1 && nanp(1) && (g == 1 || l == [1, 3, 3, 4]) {
        return true;
    }
    // India: 10-digit mobile numbers start with 6–9, written 5+5.
    if d == 10 && dg[0] >= 6 && (g == 1 || l == [5, 5]) {
        return true;
    }
    // Brazil: (DD) 9XXXX-XXXX or (DD) XXXX-XXXX; DD has no zero.
    let br_area = dg[0] != 0 && dg[1] != 0;
    if br_area && g == 3 && l[0] == 2 && (l[1] == 5 && dg[2] == 9 || l[1] == 4 && dg[2] >= 2) && l[2] == 4 && seps.iter().all(|&s| s != b'.') {
        return true;
    }
    if br_area && g == 1 && d == 11 && dg[2] == 9 {
        return true;
    }
    false
}

// ------------------------------------------------------------------ IPv6

/// ipv6 returns the end of an IPv6 address starting at i (full or
/// compressed, with an embedded IPv4 tail).
fn ipv6(t: &[u8], i: usize) -> Option<usize> {
    let n = t.len();
    let mut p = i;
    let mut groups = 0;
    let mut double = false;
    let mut hexdigits = 0;
    if t[p] == b':' {
        if p + 1 >= n || t[p + 1] != b':' {
            return None;
        }
        double = true;
        p += 2;
    }
    let mut end = p;
    loop {
        // A group or an embedded IPv4.
        let gs = p;
        while p < n && class(t[p]) & HEX != 0 && p - gs < 5 {
            p += 1;
        }
        let gl = p - gs;
        if gl == 0 {
            break;
        }
        if p < n && t[p] == b'.' && (double || groups == 6) && groups <= 6 {
            if let Some(e) = ipv4_tail(t, gs) {
                groups += 2;
                end = e;
                hexdigits += 4;
                break;
            }
        }
        if gl > 4 {
            return None;
        }
        groups += 1;
        hexdigits += gl;
        end = p;
        if groups > 8 {
            return None;
        }
        if p + 1 < n && t[p] == b':' && t[p + 1] == b':' {
            if double {
                break;
            }
            double = true;
            p += 2;
            end = p;
            continue;
        }
        if p + 1 < n && t[p] == b':' && class(t[p + 1]) & HEX != 0 {
            p += 1;
            continue;
        }
        break;
    }
    if is(t, end, WORD) || (end < n && t[end] == b'.' && is(t, end + 1, DIGIT)) {
        return None;
    }
    let ok = if double {
        // "::1" is an address; "a::", "::" and "a::b" in running text are
        // not taken for one (C++ scopes, ratios).
        (1..=7).contains(&groups) && (t[i] == b':' || (groups >= 2 && hexdigits >= 3))
    } else {
        groups == 8
    };
    if !ok {
        return None;
    }
    Some(end)
}

fn ipv4_tail(t: &[u8], i: usize) -> Option<usize> {
    let r = run(t, i);
    if r.n >= 4 && r.seps(4).iter().all(|&s| s == b'.') && ipv4(&r) {
        let e = r.end[3];
        if r.n == 4 || r.sep[4] != b'.' {
            return Some(e);
        }
    }
    None
}

// -------------------------------------------------------------- JWT, keys

fn key_end(t: &[u8], mut p: usize) -> usize {
    while p < t.len() && class(t[p]) & KEY != 0 {
        p += 1;
    }
    p
}

/// jwt: three base64url segments "eyJ….eyJ….sig" (an unsigned token keeps
/// its final dot).
fn jwt(t: &[u8], i: usize) -> Option<usize> {
    let h = key_end(t, i);
    if h - i < 10 || h >= t.len() || t[h] != b'.' {
        return None;
    }
    let p = key_end(t, h + 1);
    if p - h - 1 < 10 || p >= t.len() || t[p] != b'.' {
        return None;
    }
    Some(key_end(t, p + 1))
}

/// secret recognises API keys and tokens by their documented prefixes.
fn secret(t: &[u8], i: usize, j: usize) -> Option<usize> {
    let w = &t[i..j];
    let n = t.len();
    let dash = j < n && t[j] == b'-';
    match w[0] {
        b's' if w == b"sk" && dash => {
            // OpenAI sk-…, sk-proj-…, sk-svcacct-…; Anthropic sk-ant-….
            let e = key_end(t, j + 1);
            (e - j - 1 >= 20).then(|| e)
        }
        b's' | b'r' if w.starts_with(b"sk_live_") || w.starts_with(b"sk_test_") || w.starts_with(b"rk_live_") => {
            let e = key_end(t, i);
            (e - i >= 24).then(|| e)
        }
        b'g' if w.len() >= 40 && w.starts_with(b"gh") && matches!(w[2], b'p' | b'o' | b'u' | b's' | b'r') && w[3] == b'_' => {
            all(&w[4..], WORD).then(|| j)
        }
        b'g' if w.starts_with(b"github_pat_") && w.len() >= 11 + 22 => Some(j),
        b'x' if dash && (w == b"xoxb" || w == b"xoxp" || w == b"xoxa" || w == b"xoxr" || w == b"xoxs" || w == b"xoxe" || w == b"xapp") => {
            let e = key_end(t, j + 1);
            (e - j - 1 >= 10).then(|| e)
        }
        b'A' if w.starts_with(b"AIza") => {
            let e = key_end(t, i);
            (e - i == 39).then(|| e)
        }
        b'A' if w.len() == 20 && aws_prefix(&w[..4]) && w[4..].iter().all(|&b| b.is_ascii_uppercase() || digit(b)) => Some(j),
        b'h' if w.len() == 37 && w.starts_with(b"hf_") && all(&w[3..], ALPHA) => Some(j),
        _ => None,
    }
}

fn aws_prefix(p: &[u8]) -> bool {
    matches!(p, b"AKIA" | b"ASIA" | b"ABIA" | b"ACCA" | b"AGPA" | b"AIDA" | b"AROA" | b"AIPA" | b"ANPA" | b"ANVA" | b"APKA")
}

/// pem: "-----BEGIN … PRIVATE KEY-----" through its END line. A block whose
/// END is missing is redacted to the end of the string (fail closed).
fn pem(t: &[u8], i: usize) -> Option<usize> {
    let line_end = find(t, i + 11, b"-----").filter(|&e| e - i < 80)?;
    let label = &t[i + 11..line_end];
    if !label.ends_with(b"PRIVATE KEY") && !label.ends_with(b"PRIVATE KEY BLOCK") {
        return None;
    }
    let body = line_end + 5;
    match find(t, body, b"-----END ") {
        Some(e) => match find(t, e + 9, b"-----") {
            Some(f) => Some(f + 5),
            None => Some(t.len()),
        },
        None => Some(t.len()),
    }
}

fn find(t: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    if from >= t.len() {
        return None;
    }
    t[from..].windows(pat.len()).position(|w| w == pat).map(|p| p + from)
}

// ------------------------------------------------------------------ IBAN

/// iban_len is the IBAN length of a country (ISO 13616 registry).
fn iban_len(cc: [u8; 2]) -> usize {
    match &cc {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" | b"SD" | b"FK" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"XK" | b"MN" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"TL" | b"OM" | b"SO" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"LY" | b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" | b"BI" | b"DJ" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"PL" | b"SV" | b"NI" | b"HN" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" | b"YE" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        b"RU" => 33,
        _ => 0,
    }
}

/// iban reads an IBAN from i, compact ("DE89370400440532013000") or in
/// groups of four ("DE89 3704 0044 0532 0130 00"), and checks its length
/// and mod-97 check digits.
fn iban(t: &[u8], i: usize, j: usize) -> Option<usize> {
    let cc = [t[i].to_ascii_uppercase(), t[i + 1].to_ascii_uppercase()];
    let want = iban_len(cc);
    if want == 0 {
        return None;
    }
    let mut chars = [0u8; 34];
    let end;
    if j - i == want {
        chars[..want].copy_from_slice(&t[i..j]);
        end = j;
    } else if j - i == 4 {
        let mut k = 0;
        let mut p = i;
        loop {
            let gs = p;
            while p < t.len() && class(t[p]) & WORD != 0 && t[p] != b'_' && p - gs <= 4 {
                if k < 34 {
                    chars[k] = t[p];
                }
                k += 1;
                p += 1;
            }
            let gl = p - gs;
            if gl == 0 || gl > 4 || k > want {
                return None;
            }
            if k == want {
                break;
            }
            if gl != 4 || p + 1 >= t.len() || t[p] != b' ' || class(t[p + 1]) & WORD == 0 {
                return None;
            }
            p += 1;
        }
        if is(t, p, WORD) {
            return None;
        }
        end = p;
    } else {
        return None;
    }
    mod97(&chars[..want]).then(|| end)
}

/// mod97 checks an IBAN's check digits (ISO 7064 MOD 97-10).
pub fn mod97(s: &[u8]) -> bool {
    let mut rem = 0u32;
    for k in 0..s.len() {
        let b = s[(k + 4) % s.len()].to_ascii_uppercase();
        if digit(b) {
            rem = (rem * 10 + (b - b'0') as u32) % 97;
        } else if b.is_ascii_uppercase() {
            rem = (rem * 100 + (b - b'A' + 10) as u32) % 97;
        } else {
            return false;
        }
    }
    rem == 1
}
