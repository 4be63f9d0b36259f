//! The redaction engine: a JSON request body in, the rewritten body and the
//! placeholder → original pairs out. It knows nothing of the plugin ABI
//! (src/abi.rs is the glue), so it is tested natively with `cargo test` and
//! can sit behind any SDK.
//!
//! An Engine is built once per plugin instance from the config and reused
//! for every call: its buffers keep their capacity, so a steady stream of
//! requests allocates (inside the guest) only when a body is bigger than
//! any before.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

use crate::detect::{self, Enabled};
use crate::json::{self, JsonError, StringValue, Value};

/// An entity kind; its label is the placeholder's `KIND` in `<KIND_n>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Email = 0,
    Phone,
    Card,
    Iban,
    Ssn,
    Ip,
    Jwt,
    Secret,
    Term,
    Pattern,
}

const KINDS: usize = 10;

const ALL: [Kind; KINDS] = [
    Kind::Email,
    Kind::Phone,
    Kind::Card,
    Kind::Iban,
    Kind::Ssn,
    Kind::Ip,
    Kind::Jwt,
    Kind::Secret,
    Kind::Term,
    Kind::Pattern,
];

impl Kind {
    /// The placeholder label.
    pub fn label(self) -> &'static [u8] {
        match self {
            Kind::Email => b"EMAIL",
            Kind::Phone => b"PHONE",
            Kind::Card => b"CARD",
            Kind::Iban => b"IBAN",
            Kind::Ssn => b"SSN",
            Kind::Ip => b"IP",
            Kind::Jwt => b"JWT",
            Kind::Secret => b"SECRET",
            Kind::Term => b"TERM",
            Kind::Pattern => b"PATTERN",
        }
    }
}

/// A found entity: bytes [start, end) of the decoded string, and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    pub kind: Kind,
}

/// Why the engine refused its config.
#[derive(Debug)]
pub struct ConfigError(pub String);

/// Why a call failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// The body is not JSON.
    BadJson(usize),
}

/// Values of these members are identifiers or enumerations, never text a
/// person wrote: they are passed through unscanned so that a tenant term can
/// never rewrite a model name or a call id. `data`/`file_data` hold base64.
const SKIP_KEYS: &[&[u8]] = &[
    b"model",
    b"role",
    b"type",
    b"object",
    b"id",
    b"tool_call_id",
    b"call_id",
    b"previous_response_id",
    b"response_id",
    b"encoding_format",
    b"service_tier",
    b"effort",
    b"reasoning_effort",
    b"status",
    b"file_id",
    b"file_data",
    b"data",
    b"format",
    b"voice",
    b"detail",
    b"truncation",
    b"modalities",
];

/// The engine. Not safe for concurrent use (a plugin instance serves one
/// call at a time).
pub struct Engine {
    on: Enabled,
    terms: Option<AhoCorasick>,
    patterns: Vec<Regex>,

    // Per call, reused.
    spans: Vec<Span>,
    text: Vec<u8>,
    map: Vec<u32>,
    copied: usize,
    pairs: Pairs,
    taken: Vec<(usize, u32)>,
    next: [u32; KINDS],
}

/// The pairs of one call: placeholders and originals in one arena.
#[derive(Default)]
pub struct Pairs {
    arena: Vec<u8>,
    list: Vec<Pair>,
    table: Vec<u32>, // open addressing: pair index + 1, 0 = empty
    used: Vec<u32>,  // table slots in use, to clear them
}

#[derive(Clone, Copy)]
struct Pair {
    ph: (u32, u32),
    orig: (u32, u32),
    kind: Kind,
    hash: u64,
}

impl Pairs {
    /// The number of distinct originals redacted in the call.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether nothing was redacted.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The i-th pair (placeholder, original) in order of first appearance.
    pub fn get(&self, i: usize) -> (&[u8], &[u8]) {
        let p = &self.list[i];
        (&self.arena[p.ph.0 as usize..p.ph.1 as usize], &self.arena[p.orig.0 as usize..p.orig.1 as usize])
    }

    fn reset(&mut self) {
        self.arena.clear();
        self.list.clear();
        for &s in &self.used {
            self.table[s as usize] = 0;
        }
        self.used.clear();
    }

    /// find returns the index of the pair of (kind, orig).
    fn find(&self, kind: Kind, orig: &[u8], hash: u64) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut s = hash as usize & mask;
        loop {
            let v = self.table[s];
            if v == 0 {
                return None;
            }
            let p = &self.list[v as usize - 1];
            if p.hash == hash && p.kind == kind && &self.arena[p.orig.0 as usize..p.orig.1 as usize] == orig {
                return Some(v as usize - 1);
            }
            s = (s + 1) & mask;
        }
    }

    fn insert(&mut self, idx: usize) {
        if (self.list.len()) * 2 > self.table.len() {
            let size = (self.table.len() * 2).max(64);
            self.table.clear();
            self.table.resize(size, 0);
            self.used.clear();
            for k in 0..self.list.len() {
                self.place(k);
            }
            return;
        }
        self.place(idx);
    }

    fn place(&mut self, idx: usize) {
        let mask = self.table.len() - 1;
        let mut s = self.list[idx].hash as usize & mask;
        while self.table[s] != 0 {
            s = (s + 1) & mask;
        }
        self.table[s] = idx as u32 + 1;
        self.used.push(s as u32);
    }
}

fn hash(kind: Kind, s: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = (kind as u64 + 1).wrapping_mul(K);
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

impl Engine {
    /// new builds an engine from the plugin config (JSON):
    ///
    /// ```json
    /// {"entities": ["email","phone","card","iban","ssn","ip","jwt","secret"],
    ///  "terms": ["Project Falcon", "Acme Corp"],
    ///  "patterns": ["EMP-[0-9]{6}"]}
    /// ```
    ///
    /// Without "entities" every built-in kind is on; "terms" (whole words,
    /// case-insensitive) become `<TERM_n>`, "patterns" (Rust regex syntax)
    /// `<PATTERN_n>`. An unknown member or entity, an empty term or a bad
    /// pattern refuses the config.
    pub fn new(config: &[u8]) -> Result<Engine, ConfigError> {
        let mut on = Enabled {
            email: true,
            phone: true,
            card: true,
            iban: true,
            ssn: true,
            ip: true,
            jwt: true,
            secret: true,
        };
        let mut terms: Vec<String> = Vec::new();
        let mut patterns = Vec::new();
        let cfg = if config.iter().all(|b| b.is_ascii_whitespace()) {
            Value::Object(Vec::new())
        } else {
            json::parse(config).map_err(|e| ConfigError(format!("config is not JSON (at byte {})", e.at)))?
        };
        let members = match cfg {
            Value::Object(m) => m,
            Value::Null => Vec::new(),
            _ => return Err(ConfigError("config must be an object".into())),
        };
        for (k, v) in members {
            match k.as_str() {
                "entities" => {
                    on = Enabled::default();
                    for e in strings(&v, "entities")? {
                        match e.as_str() {
                            "email" => on.email = true,
                            "phone" => on.phone = true,
                            "card" => on.card = true,
                            "iban" => on.iban = true,
                            "ssn" => on.ssn = true,
                            "ip" => on.ip = true,
                            "jwt" => on.jwt = true,
                            "secret" => on.secret = true,
                            _ => {
                                return Err(ConfigError(format!(
                                    "unknown entity {:?}: want email, phone, card, iban, ssn, ip, jwt or secret",
                                    e
                                )))
                            }
                        }
                    }
                }
                "terms" => {
                    for t in strings(&v, "terms")? {
                        let t = t.trim();
                        if t.is_empty() {
                            return Err(ConfigError("terms: empty term".into()));
                        }
                        // ASCII letters match in any case (the automaton
                        // folds them); other letters in the forms given,
                        // lower case and upper case.
                        terms.push(t.to_string());
                        if !t.is_ascii() {
                            terms.push(t.to_lowercase());
                            terms.push(t.to_uppercase());
                        }
                    }
                }
                "patterns" => {
                    for p in strings(&v, "patterns")? {
                        let re = Regex::new(&p).map_err(|e| ConfigError(format!("patterns: {}", e)))?;
                        patterns.push(re);
                    }
                }
                _ => return Err(ConfigError(format!("unknown config member {:?}: want entities, terms or patterns", k))),
            }
        }
        terms.sort_unstable();
        terms.dedup();
        let terms = if terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .dfa(true)
                    .build(&terms),
            )
        };
        Ok(Engine {
            on,
            terms,
            patterns,
            spans: Vec::new(),
            text: Vec::new(),
            map: Vec::new(),
            copied: 0,
            pairs: Pairs::default(),
            taken: Vec::new(),
            next: [1; KINDS],
        })
    }

    /// redact scans the string values of the JSON text body. When something
    /// matched it appends the rewritten body to out and returns true; the
    /// pairs are then in self.pairs() until the next call. When nothing
    /// matched it returns false and leaves out as it was.
    ///
    /// taken are the placeholders earlier redactors of the same request
    /// used: this call numbers its own past them.
    pub fn redact<'t, I>(&mut self, body: &[u8], taken: I, out: &mut Vec<u8>) -> Result<bool, Error>
    where
        I: IntoIterator<Item = &'t [u8]>,
    {
        self.pairs.reset();
        self.next = [1; KINDS];
        self.taken.clear();
        for ph in taken {
            if let Some(t) = parse_placeholder(ph) {
                self.taken.push(t);
            }
        }
        self.copied = 0;
        let mark = out.len();
        let mut text = core::mem::take(&mut self.text);
        let res = json::walk(body, &mut |v: &StringValue| self.string(body, v, &mut text, out));
        self.text = text;
        if let Err(e) = res {
            out.truncate(mark);
            return Err(Error::BadJson(e.at));
        }
        if self.pairs.is_empty() {
            out.truncate(mark);
            return Ok(false);
        }
        out.extend_from_slice(&body[self.copied..]);
        Ok(true)
    }

    /// The pairs of the last call that returned true.
    pub fn pairs(&self) -> &Pairs {
        &self.pairs
    }

    fn string(&mut self, body: &[u8], v: &StringValue, text: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<(), JsonError> {
        if SKIP_KEYS.contains(&v.key) {
            return Ok(());
        }
        let raw = &body[v.start..v.end];
        // Inline files and images ("data:image/png;base64,…") are not text.
        if raw.starts_with(b"data:") && raw[..raw.len().min(100)].windows(8).any(|w| w == b";base64,") {
            return Ok(());
        }
        let t: &[u8] = if v.escaped {
            text.clear();
            self.map.clear();
            json::decode(raw, text, &mut self.map).map_err(|e| JsonError { at: v.start + e.at })?;
            text
        } else {
            raw
        };
        self.spans.clear();
        self.find(t);
        if self.spans.is_empty() {
            return Ok(());
        }
        let spans = core::mem::take(&mut self.spans);
        for sp in &spans {
            let (mut s, mut e) = (sp.start as usize, sp.end as usize);
            let (rs, re) = if v.escaped {
                // Keep whole escapes: a span never cuts one in two.
                while s > 0 && self.map[s] == self.map[s - 1] {
                    s -= 1;
                }
                while e < t.len() && self.map[e] == self.map[e - 1] {
                    e += 1;
                }
                (self.map[s] as usize, self.map[e] as usize)
            } else {
                (s, e)
            };
            out.extend_from_slice(&body[self.copied..v.start + rs]);
            let idx = self.placeholder(sp.kind, &t[s..e]);
            let p = self.pairs.list[idx];
            out.extend_from_slice(&self.pairs.arena[p.ph.0 as usize..p.ph.1 as usize]);
            self.copied = v.start + re;
        }
        self.spans = spans;
        Ok(())
    }

    /// find fills self.spans with the entities of t, ordered and disjoint.
    fn find(&mut self, t: &[u8]) {
        if self.on.any() {
            detect::scan(&self.on, t, &mut self.spans);
        }
        let builtin = self.spans.len();
        if let Some(ac) = &self.terms {
            for m in ac.find_iter(t) {
                if word_edge(t, m.start(), true) && word_edge(t, m.end(), false) {
                    self.spans.push(Span { start: m.start() as u32, end: m.end() as u32, kind: Kind::Term });
                }
            }
        }
        for re in &self.patterns {
            for m in re.find_iter(t) {
                if m.end() > m.start() {
                    self.spans.push(Span { start: m.start() as u32, end: m.end() as u32, kind: Kind::Pattern });
                }
            }
        }
        if self.spans.len() == builtin {
            return;
        }
        // Merge: the earliest start wins, then the longest; overlaps go.
        self.spans.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        let mut last_end = 0;
        self.spans.retain(|s| {
            if s.start < last_end {
                return false;
            }
            last_end = s.end;
            true
        });
    }

    /// placeholder returns the index of the pair for (kind, orig), adding it
    /// with the next free number of its kind when it is new.
    fn placeholder(&mut self, kind: Kind, orig: &[u8]) -> usize {
        let h = hash(kind, orig);
        if let Some(i) = self.pairs.find(kind, orig, h) {
            return i;
        }
        let k = kind as usize;
        let mut n = self.next[k];
        while self.taken.contains(&(k, n)) {
            n += 1;
        }
        self.next[k] = n + 1;
        let a = &mut self.pairs.arena;
        let ph0 = a.len() as u32;
        a.push(b'<');
        a.extend_from_slice(kind.label());
        a.push(b'_');
        push_decimal(a, n);
        a.push(b'>');
        let ph1 = a.len() as u32;
        a.extend_from_slice(orig);
        let o1 = a.len() as u32;
        self.pairs.list.push(Pair { ph: (ph0, ph1), orig: (ph1, o1), kind, hash: h });
        let idx = self.pairs.list.len() - 1;
        self.pairs.insert(idx);
        idx
    }
}

fn push_decimal(a: &mut Vec<u8>, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    a.extend_from_slice(&buf[i..]);
}

/// parse_placeholder reads "<KIND_n>" into (kind index, n).
fn parse_placeholder(ph: &[u8]) -> Option<(usize, u32)> {
    let inner = ph.strip_prefix(b"<")?.strip_suffix(b">")?;
    let us = inner.iter().rposition(|&b| b == b'_')?;
    let (label, num) = (&inner[..us], &inner[us + 1..]);
    let kind = ALL.iter().position(|k| k.label() == label)?;
    let mut n: u32 = 0;
    if num.is_empty() || num.len() > 9 {
        return None;
    }
    for &d in num {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (d - b'0') as u32;
    }
    Some((kind, n))
}

/// word_edge reports whether position i of t is a word boundary on the side
/// of a match (start: the byte before i; end: the byte at i). A match whose
/// own edge character is not a word character ("C++") needs no boundary.
fn word_edge(t: &[u8], i: usize, start: bool) -> bool {
    let inside = if start { t.get(i) } else { i.checked_sub(1).and_then(|k| t.get(k)) };
    if let Some(&c) = inside {
        if c < 0x80 && !c.is_ascii_alphanumeric() && c != b'_' {
            return true;
        }
    }
    if start && detect::escape_ends_at(t, i) {
        return true; // "\u003cAcme": an escape left by nested JSON
    }
    if !start && i < t.len() && t[i] == b'\\' && detect::escape_len(t, i) > 0 {
        return true;
    }
    let outside = if start {
        if i == 0 {
            return true;
        }
        // The character before i (UTF-8 aware).
        let mut s = i - 1;
        while s > 0 && t[s] & 0xC0 == 0x80 {
            s -= 1;
        }
        core::str::from_utf8(&t[s..i]).ok().and_then(|x| x.chars().next())
    } else {
        if i >= t.len() {
            return true;
        }
        let e = (i + 4).min(t.len());
        let mut w = &t[i..e];
        loop {
            match core::str::from_utf8(w) {
                Ok(x) => break x.chars().next(),
                Err(err) if err.valid_up_to() > 0 => w = &w[..err.valid_up_to()],
                Err(_) => break None,
            }
        }
    };
    match outside {
        Some(c) => !(c.is_alphanumeric() || c == '_'),
        None => true,
    }
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, ConfigError> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ConfigError(format!("{}: want a list of strings", what))),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(ConfigError(format!("{}: want a list of strings", what))),
    }
}
