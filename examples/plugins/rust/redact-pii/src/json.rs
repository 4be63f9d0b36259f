//! A strict, allocation-free walk over a JSON text that reports where each
//! string *value* is (keys are never reported), and the decoding of JSON
//! string escapes with a map from decoded bytes back to the raw text.

/// Why the body was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct JsonError {
    pub at: usize,
}

/// Nesting deeper than this is refused rather than risk the guest's stack.
const MAX_DEPTH: usize = 256;

/// A string value found by walk: its content is raw[start..end] (without the
/// quotes); escaped says whether it holds a backslash escape; key is the raw
/// key of the object member it is (or, inside arrays, the nearest member).
pub struct StringValue<'a> {
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
    pub key: &'a [u8],
}

/// walk visits every string value of the JSON text b, in order. It fails on
/// anything that is not a single JSON value (with surrounding white space).
pub fn walk<F>(b: &[u8], f: &mut F) -> Result<(), JsonError>
where
    F: FnMut(&StringValue) -> Result<(), JsonError>,
{
    let p = value(b, ws(b, 0), 0, b"", f)?;
    let p = ws(b, p);
    if p != b.len() {
        return Err(JsonError { at: p });
    }
    Ok(())
}

fn ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && matches!(b[p], b' ' | b'\n' | b'\r' | b'\t') {
        p += 1;
    }
    p
}

fn value<F>(b: &[u8], p: usize, depth: usize, key: &[u8], f: &mut F) -> Result<usize, JsonError>
where
    F: FnMut(&StringValue) -> Result<(), JsonError>,
{
    if p >= b.len() || depth > MAX_DEPTH {
        return Err(JsonError { at: p });
    }
    match b[p] {
        b'"' => {
            let (end, escaped) = string(b, p + 1)?;
            f(&StringValue { start: p + 1, end, escaped, key })?;
            Ok(end + 1)
        }
        b'{' => {
            let mut p = ws(b, p + 1);
            if p < b.len() && b[p] == b'}' {
                return Ok(p + 1);
            }
            loop {
                if p >= b.len() || b[p] != b'"' {
                    return Err(JsonError { at: p });
                }
                let (kend, _) = string(b, p + 1)?;
                let k = &b[p + 1..kend];
                p = ws(b, kend + 1);
                if p >= b.len() || b[p] != b':' {
                    return Err(JsonError { at: p });
                }
                p = value(b, ws(b, p + 1), depth + 1, k, f)?;
                p = ws(b, p);
                match b.get(p) {
                    Some(b',') => p = ws(b, p + 1),
                    Some(b'}') => return Ok(p + 1),
                    _ => return Err(JsonError { at: p }),
                }
            }
        }
        b'[' => {
            let mut p = ws(b, p + 1);
            if p < b.len() && b[p] == b']' {
                return Ok(p + 1);
            }
            loop {
                p = value(b, p, depth + 1, key, f)?;
                p = ws(b, p);
                match b.get(p) {
                    Some(b',') => p = ws(b, p + 1),
                    Some(b']') => return Ok(p + 1),
                    _ => return Err(JsonError { at: p }),
                }
            }
        }
        b't' => literal(b, p, b"true"),
        b'f' => literal(b, p, b"false"),
        b'n' => literal(b, p, b"null"),
        b'-' | b'0'..=b'9' => number(b, p),
        _ => Err(JsonError { at: p }),
    }
}

fn literal(b: &[u8], p: usize, lit: &[u8]) -> Result<usize, JsonError> {
    if b[p..].starts_with(lit) {
        Ok(p + lit.len())
    } else {
        Err(JsonError { at: p })
    }
}

fn number(b: &[u8], mut p: usize) -> Result<usize, JsonError> {
    let start = p;
    let digits = |b: &[u8], mut p: usize| {
        let s = p;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        (p, p - s)
    };
    if b[p] == b'-' {
        p += 1;
    }
    let (q, n) = digits(b, p);
    if n == 0 || (n > 1 && b[p] == b'0') {
        return Err(JsonError { at: start });
    }
    p = q;
    if p < b.len() && b[p] == b'.' {
        let (q, n) = digits(b, p + 1);
        if n == 0 {
            return Err(JsonError { at: p });
        }
        p = q;
    }
    if p < b.len() && (b[p] == b'e' || b[p] == b'E') {
        p += 1;
        if p < b.len() && (b[p] == b'+' || b[p] == b'-') {
            p += 1;
        }
        let (q, n) = digits(b, p);
        if n == 0 {
            return Err(JsonError { at: p });
        }
        p = q;
    }
    Ok(p)
}

/// string returns the index of the closing quote of the string whose
/// content starts at p, and whether it holds an escape.
fn string(b: &[u8], mut p: usize) -> Result<(usize, bool), JsonError> {
    let mut escaped = false;
    loop {
        match memchr::memchr2(b'"', b'\\', &b[p.min(b.len())..]) {
            None => return Err(JsonError { at: b.len() }),
            Some(k) => {
                p += k;
                if b[p] == b'"' {
                    return Ok((p, escaped));
                }
                escaped = true;
                p += 2; // the backslash and the escaped byte; \u's hex is plain text
                if p > b.len() {
                    return Err(JsonError { at: b.len() });
                }
            }
        }
    }
}

/// decode appends the decoded content of a JSON string (raw, without
/// quotes) to text and, for each decoded byte, the offset in raw of the
/// escape or byte it came from to map; map gets one more entry, raw.len().
/// A lone surrogate decodes to U+FFFD.
pub fn decode(raw: &[u8], text: &mut Vec<u8>, map: &mut Vec<u32>) -> Result<(), JsonError> {
    let mut i = 0;
    while i < raw.len() {
        let run = memchr::memchr(b'\\', &raw[i..]).unwrap_or(raw.len() - i);
        text.extend_from_slice(&raw[i..i + run]);
        map.extend((i..i + run).map(|x| x as u32));
        i += run;
        if i >= raw.len() {
            break;
        }
        let at = i;
        let c = *raw.get(i + 1).ok_or(JsonError { at })?;
        let simple = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return Err(JsonError { at }),
        };
        if let Some(d) = simple {
            text.push(d);
            map.push(at as u32);
            i += 2;
            continue;
        }
        let hi = hex4(raw, i + 2).ok_or(JsonError { at })?;
        let mut len = 6;
        let cp = if (0xD800..0xDC00).contains(&hi) {
            match (raw.get(i + 6), raw.get(i + 7), hex4(raw, i + 8)) {
                (Some(b'\\'), Some(b'u'), Some(lo)) if (0xDC00..0xE000).contains(&lo) => {
                    len = 12;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                }
                _ => 0xFFFD,
            }
        } else if (0xDC00..0xE000).contains(&hi) {
            0xFFFD
        } else {
            hi
        };
        let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
        let mut buf = [0u8; 4];
        for &x in ch.encode_utf8(&mut buf).as_bytes() {
            text.push(x);
            map.push(at as u32);
        }
        i += len;
    }
    map.push(raw.len() as u32);
    Ok(())
}

fn hex4(b: &[u8], p: usize) -> Option<u32> {
    let h = b.get(p..p + 4)?;
    let mut v = 0;
    for &c in h {
        v = v * 16
            + match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return None,
            } as u32;
    }
    Some(v)
}

/// A parsed JSON value, for the plugin's config (small, parsed once).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// parse parses a whole JSON text into a Value.
pub fn parse(b: &[u8]) -> Result<Value, JsonError> {
    let (v, p) = parse_value(b, ws(b, 0), 0)?;
    let p = ws(b, p);
    if p != b.len() {
        return Err(JsonError { at: p });
    }
    Ok(v)
}

fn parse_value(b: &[u8], p: usize, depth: usize) -> Result<(Value, usize), JsonError> {
    if p >= b.len() || depth > MAX_DEPTH {
        return Err(JsonError { at: p });
    }
    match b[p] {
        b'"' => {
            let (s, e) = parse_string(b, p)?;
            Ok((Value::String(s), e))
        }
        b'{' => {
            let mut members = Vec::new();
            let mut p = ws(b, p + 1);
            if b.get(p) == Some(&b'}') {
                return Ok((Value::Object(members), p + 1));
            }
            loop {
                if b.get(p) != Some(&b'"') {
                    return Err(JsonError { at: p });
                }
                let (k, e) = parse_string(b, p)?;
                p = ws(b, e);
                if b.get(p) != Some(&b':') {
                    return Err(JsonError { at: p });
                }
                let (v, e) = parse_value(b, ws(b, p + 1), depth + 1)?;
                members.push((k, v));
                p = ws(b, e);
                match b.get(p) {
                    Some(b',') => p = ws(b, p + 1),
                    Some(b'}') => return Ok((Value::Object(members), p + 1)),
                    _ => return Err(JsonError { at: p }),
                }
            }
        }
        b'[' => {
            let mut items = Vec::new();
            let mut p = ws(b, p + 1);
            if b.get(p) == Some(&b']') {
                return Ok((Value::Array(items), p + 1));
            }
            loop {
                let (v, e) = parse_value(b, p, depth + 1)?;
                items.push(v);
                p = ws(b, e);
                match b.get(p) {
                    Some(b',') => p = ws(b, p + 1),
                    Some(b']') => return Ok((Value::Array(items), p + 1)),
                    _ => return Err(JsonError { at: p }),
                }
            }
        }
        b't' => literal(b, p, b"true").map(|e| (Value::Bool(true), e)),
        b'f' => literal(b, p, b"false").map(|e| (Value::Bool(false), e)),
        b'n' => literal(b, p, b"null").map(|e| (Value::Null, e)),
        _ => {
            let e = number(b, p)?;
            let s = core::str::from_utf8(&b[p..e]).map_err(|_| JsonError { at: p })?;
            Ok((Value::Number(s.parse().map_err(|_| JsonError { at: p })?), e))
        }
    }
}

fn parse_string(b: &[u8], p: usize) -> Result<(String, usize), JsonError> {
    let (end, escaped) = string(b, p + 1)?;
    let raw = &b[p + 1..end];
    let s = if escaped {
        let (mut text, mut map) = (Vec::new(), Vec::new());
        decode(raw, &mut text, &mut map)?;
        String::from_utf8(text)
    } else {
        String::from_utf8(raw.to_vec())
    };
    Ok((s.map_err(|_| JsonError { at: p })?, end + 1))
}
