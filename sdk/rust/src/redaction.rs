//! The output side of a redact call: the rewritten body and its placeholders.

use alloc::vec::Vec;

use crate::record::Reader;

/// The placeholders earlier redactors of this request already used; a new
/// placeholder skips their numbers. Walked in place in the input record.
#[derive(Clone, Copy, Debug)]
pub struct Taken<'a> {
    rec: &'a [u8],
    count: u32,
}

impl<'a> Taken<'a> {
    pub(crate) fn new(rec: &'a [u8], count: u32) -> Taken<'a> {
        Taken { rec, count }
    }

    /// No placeholder taken.
    pub const fn none() -> Taken<'static> {
        Taken { rec: &[], count: 0 }
    }

    /// Reports whether `placeholder` was used by an earlier redactor.
    pub fn contains(&self, placeholder: &[u8]) -> bool {
        let mut r = Reader::new(self.rec);
        for _ in 0..self.count {
            match r.bytes() {
                Ok(t) if t == placeholder => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }
}

#[derive(Clone, Copy)]
struct Span(usize, usize);

#[derive(Clone, Copy)]
struct Pair {
    kind: Span,
    placeholder: Span,
    original: Span,
}

/// The reusable buffers behind a [`Redaction`]; they grow to the largest call
/// and are then reused. The SDK owns one per instance; a test makes its own.
#[derive(Default)]
pub struct RedactBuffers {
    out: Vec<u8>,    // u32 body length, then the body, then the pairs at finish
    store: Vec<u8>,  // kinds, placeholders and originals of this call
    pairs: Vec<Pair>,
    counts: Vec<(Span, u32)>, // per kind: the last number handed out
}

impl RedactBuffers {
    /// Empty buffers.
    pub const fn new() -> RedactBuffers {
        RedactBuffers { out: Vec::new(), store: Vec::new(), pairs: Vec::new(), counts: Vec::new() }
    }
}

/// Builds the rewritten body of one redact call. Copy the text you keep with
/// [`copy`](Redaction::copy) and put a placeholder for each redacted span
/// with [`replace`](Redaction::replace); placeholders are `<KIND_n>`, numbered
/// per kind from 1 in order of first appearance, skipping numbers earlier
/// redactors took, and the same original always gets the same placeholder.
pub struct Redaction<'a> {
    b: &'a mut RedactBuffers,
    taken: Taken<'a>,
}

impl<'a> Redaction<'a> {
    /// Starts a redaction over cleared buffers. The SDK calls this for each
    /// call; tests of a hook can too (with [`Taken::none`]).
    pub fn new(b: &'a mut RedactBuffers, taken: Taken<'a>) -> Redaction<'a> {
        b.out.clear();
        b.out.extend_from_slice(&[0; 4]);
        b.store.clear();
        b.pairs.clear();
        b.counts.clear();
        Redaction { b, taken }
    }

    /// Appends kept text to the body.
    pub fn copy(&mut self, text: &[u8]) {
        self.b.out.extend_from_slice(text);
    }

    /// Appends the placeholder for `original` (the text as it appears inside
    /// the JSON string) to the body and records the pair. `kind` is upper case
    /// by convention: EMAIL, PHONE, CARD.
    pub fn replace(&mut self, kind: &str, original: &[u8]) {
        let b = &mut *self.b;
        let kind = kind.as_bytes();
        for p in &b.pairs {
            if span(&b.store, p.kind) == kind && span(&b.store, p.original) == original {
                let ph = p.placeholder;
                b.out.extend_from_slice(&b.store[ph.0..ph.1]);
                return;
            }
        }
        let c = match b.counts.iter().position(|(k, _)| span(&b.store, *k) == kind) {
            Some(c) => c,
            None => {
                let k = Span(b.store.len(), b.store.len() + kind.len());
                b.store.extend_from_slice(kind);
                b.counts.push((k, 0));
                b.counts.len() - 1
            }
        };
        let start = b.store.len();
        loop {
            b.counts[c].1 += 1;
            b.store.truncate(start);
            b.store.push(b'<');
            b.store.extend_from_slice(kind);
            b.store.push(b'_');
            push_uint(&mut b.store, b.counts[c].1);
            b.store.push(b'>');
            if !self.taken.contains(&b.store[start..]) {
                break;
            }
        }
        let placeholder = Span(start, b.store.len());
        b.store.extend_from_slice(original);
        let pair = Pair { kind: b.counts[c].0, placeholder, original: Span(placeholder.1, b.store.len()) };
        b.pairs.push(pair);
        b.out.extend_from_slice(&b.store[placeholder.0..placeholder.1]);
    }

    /// The body written so far.
    pub fn body(&self) -> &[u8] {
        &self.b.out[4..]
    }

    /// The number of placeholders handed out.
    pub fn len(&self) -> usize {
        self.b.pairs.len()
    }

    /// Reports whether nothing was replaced.
    pub fn is_empty(&self) -> bool {
        self.b.pairs.is_empty()
    }

    /// Returns pair `i` as (placeholder, original).
    pub fn pair(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let p = self.b.pairs.get(i)?;
        Some((span(&self.b.store, p.placeholder), span(&self.b.store, p.original)))
    }

    /// Encodes the output record (body, then the pairs) and returns it, or
    /// None when nothing was replaced.
    pub(crate) fn finish(self) -> Option<&'a [u8]> {
        let b = self.b;
        if b.pairs.is_empty() {
            return None;
        }
        let n = (b.out.len() - 4) as u32;
        b.out[..4].copy_from_slice(&n.to_le_bytes());
        b.out.extend_from_slice(&(b.pairs.len() as u32).to_le_bytes());
        for p in &b.pairs {
            for s in [p.placeholder, p.original] {
                b.out.extend_from_slice(&((s.1 - s.0) as u32).to_le_bytes());
                b.out.extend_from_slice(&b.store[s.0..s.1]);
            }
        }
        Some(&b.out)
    }
}

fn span(store: &[u8], s: Span) -> &[u8] {
    &store[s.0..s.1]
}

fn push_uint(dst: &mut Vec<u8>, mut n: u32) {
    let mut d = [0u8; 10];
    let mut i = d.len();
    loop {
        i -= 1;
        d[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&d[i..]);
}
