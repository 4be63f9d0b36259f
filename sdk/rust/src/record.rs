//! Zero-copy decoding of ABI v1 input records (docs/abi.md §4, §5).

use alloc::vec::Vec;

use crate::redaction::Taken;
use crate::Error;

const FLAG_STREAM: u32 = 1;
const FLAG_DETERMINISTIC: u32 = 2;
const UPSTREAM_HEALTHY: u32 = 1;
/// Smallest encoded upstream row: three empty strings and eight u32s.
const MIN_ROW: usize = 3 * 4 + 8 * 4;

/// The routing view of one request. Every string borrows the input record.
/// `Request::default()` is an empty view, for tests of a hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request<'a> {
    /// Public model name the client asked for.
    pub model: &'a str,
    /// The tenant the client key belongs to.
    pub tenant: &'a str,
    /// Request path, e.g. `/v1/chat/completions`.
    pub path: &'a str,
    /// Name of the PoP routing the request.
    pub pop: &'a str,
    /// The PoP's region.
    pub region: &'a str,
    /// The client asked for a streamed answer.
    pub stream: bool,
    /// The answer may be cached (temperature 0 or a seed).
    pub deterministic: bool,
    /// Estimated prompt tokens (body bytes / 4).
    pub prompt_tokens: i32,
    /// The selected request headers.
    pub headers: Headers<'a>,
}

impl<'a> Request<'a> {
    /// Returns the value of the first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers.get(name)
    }
}

/// The selected request headers, walked in place in the record.
#[derive(Clone, Copy, Debug, Default)]
pub struct Headers<'a> {
    rec: &'a [u8], // starts at the first header
    count: u32,
}

impl<'a> Headers<'a> {
    /// The number of headers.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Reports whether there is no header.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Returns the value of the first header named `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Iterates over (name, value) pairs; names are lower case.
    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter { r: Reader::new(self.rec), left: self.count }
    }
}

/// Iterator over [`Headers`].
pub struct HeaderIter<'a> {
    r: Reader<'a>,
    left: u32,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The record was validated by decode_route, so these cannot fail.
        let name = self.r.str().ok()?;
        let value = self.r.bytes().ok()?;
        Some((name, value))
    }
}

/// One row of the live upstream table. Strings borrow the input record.
/// `Upstream::default()` is an empty, unhealthy row, for tests of a hook.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Upstream<'a> {
    /// The upstream's configured name.
    pub name: &'a str,
    /// The cloud: openai, azure, bedrock or vertex.
    pub provider: &'a str,
    /// The upstream's region.
    pub region: &'a str,
    /// Health as the router sees it now (breaker closed, probes passing).
    pub healthy: bool,
    /// EWMA of whole-answer latency, µs.
    pub latency_us: u32,
    /// EWMA of time to first byte, µs.
    pub ttfb_us: u32,
    /// Attempts in flight now.
    pub in_flight: u32,
    /// EWMA of failed attempts, 0..1.
    pub error_rate: f32,
    /// Price per million input tokens.
    pub price_in: f32,
    /// Price per million output tokens.
    pub price_out: f32,
    /// Configured weight.
    pub weight: u32,
}

/// Reusable storage for the decoded upstream table: it grows to the largest
/// table seen and is then reused, so decoding allocates nothing per call.
#[derive(Default)]
pub struct UpstreamTable {
    // Why 'static? The rows borrow the record of the current call only; they
    // are cleared before each decode and handed out with the record's
    // lifetime, so no row outlives its record where anyone can read it.
    rows: Vec<Upstream<'static>>,
}

impl UpstreamTable {
    /// An empty table.
    pub const fn new() -> UpstreamTable {
        UpstreamTable { rows: Vec::new() }
    }
}

/// Decodes a route record into the request view and the upstream table.
/// A truncated record, trailing bytes or a string that is not UTF-8 is
/// [`Error::BadInput`].
pub fn decode_route<'a, 't>(
    rec: &'a [u8],
    table: &'t mut UpstreamTable,
) -> Result<(Request<'a>, &'t [Upstream<'a>]), Error> {
    let mut r = Reader::new(rec);
    let flags = r.u32()?;
    let prompt_tokens = r.u32()? as i32;
    let model = r.str()?;
    let tenant = r.str()?;
    let path = r.str()?;
    let pop = r.str()?;
    let region = r.str()?;
    let count = r.u32()?;
    let start = r.off;
    if count as usize > rec.len() / 8 {
        return Err(Error::BadInput);
    }
    for _ in 0..count {
        r.str()?;
        r.bytes()?;
    }
    let headers = Headers { rec: &rec[start..r.off], count };
    let n = r.u32()? as usize;
    if n > (rec.len() - r.off) / MIN_ROW {
        return Err(Error::BadInput);
    }
    table.rows.clear();
    table.rows.reserve(n);
    for _ in 0..n {
        let row = Upstream {
            name: r.str()?,
            provider: r.str()?,
            region: r.str()?,
            healthy: r.u32()? & UPSTREAM_HEALTHY != 0,
            latency_us: r.u32()?,
            ttfb_us: r.u32()?,
            in_flight: r.u32()?,
            error_rate: r.f32()?,
            price_in: r.f32()?,
            price_out: r.f32()?,
            weight: r.u32()?,
        };
        // SAFETY: see UpstreamTable.rows; the rows are returned with 'a.
        table.rows.push(unsafe { core::mem::transmute::<Upstream<'a>, Upstream<'static>>(row) });
    }
    if r.off != rec.len() {
        return Err(Error::BadInput);
    }
    let req = Request {
        model,
        tenant,
        path,
        pop,
        region,
        stream: flags & FLAG_STREAM != 0,
        deterministic: flags & FLAG_DETERMINISTIC != 0,
        prompt_tokens,
        headers,
    };
    Ok((req, &table.rows))
}

/// Decodes a redact record into the body and the placeholders earlier
/// redactors of this request took.
pub fn decode_redact(rec: &[u8]) -> Result<(&[u8], Taken<'_>), Error> {
    let mut r = Reader::new(rec);
    r.u32()?; // flags, reserved
    let body = r.bytes()?;
    let count = r.u32()?;
    let start = r.off;
    if count as usize > (rec.len() - r.off) / 4 {
        return Err(Error::BadInput);
    }
    for _ in 0..count {
        r.bytes()?;
    }
    if r.off != rec.len() {
        return Err(Error::BadInput);
    }
    Ok((body, Taken::new(&rec[start..], count)))
}

/// Bounds-checked little-endian reader over a record.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    off: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, off: 0 }
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        match self.b.get(self.off..self.off + 4) {
            Some(s) => {
                self.off += 4;
                Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
            }
            None => Err(Error::BadInput),
        }
    }

    fn f32(&mut self) -> Result<f32, Error> {
        self.u32().map(f32::from_bits)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u32()? as usize;
        if self.b.len() - self.off < n {
            return Err(Error::BadInput);
        }
        let s = &self.b[self.off..self.off + n];
        self.off += n;
        Ok(s)
    }

    fn str(&mut self) -> Result<&'a str, Error> {
        core::str::from_utf8(self.bytes()?).map_err(|_| Error::BadInput)
    }
}
