//! Host-side tests of the record decoding and encoding (`cargo test`).

use switchyard::{decode_redact, find_byte, decode_route, Decision, RedactBuffers, Redaction, Taken, UpstreamTable};

fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    b.extend_from_slice(&(s.len() as u32).to_le_bytes());
    b.extend_from_slice(s);
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn route_record(ups: &[(&str, bool, u32)]) -> Vec<u8> {
    let mut b = Vec::new();
    put_u32(&mut b, 3); // stream | deterministic
    put_u32(&mut b, 42);
    for s in ["gpt-4o-mini", "acme", "/v1/chat/completions", "fra1", "eu-central"] {
        put_str(&mut b, s.as_bytes());
    }
    put_u32(&mut b, 2);
    put_str(&mut b, b"user-agent");
    put_str(&mut b, b"curl/8");
    put_str(&mut b, b"x-switchyard-tier");
    put_str(&mut b, b"gold");
    put_u32(&mut b, ups.len() as u32);
    for (name, healthy, ttfb) in ups {
        put_str(&mut b, name.as_bytes());
        put_str(&mut b, b"azure");
        put_str(&mut b, "région".as_bytes());
        put_u32(&mut b, *healthy as u32);
        put_u32(&mut b, 1000);
        put_u32(&mut b, *ttfb);
        put_u32(&mut b, 7);
        for f in [0.25f32, 1.5, 10.0] {
            put_u32(&mut b, f.to_bits());
        }
        put_u32(&mut b, 3);
    }
    b
}

#[test]
fn decodes_route_record() {
    let rec = route_record(&[("a", true, 300), ("b", false, 100)]);
    let mut t = UpstreamTable::new();
    let (req, ups) = decode_route(&rec, &mut t).unwrap();
    assert_eq!(req.model, "gpt-4o-mini");
    assert_eq!(req.tenant, "acme");
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!((req.pop, req.region), ("fra1", "eu-central"));
    assert!(req.stream && req.deterministic);
    assert_eq!(req.prompt_tokens, 42);
    assert_eq!(req.header("x-switchyard-tier"), Some(&b"gold"[..]));
    assert_eq!(req.header("missing"), None);
    assert_eq!(req.headers.len(), 2);
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[0].name, "a");
    assert!(ups[0].healthy && !ups[1].healthy);
    assert_eq!(ups[1].ttfb_us, 100);
    assert_eq!(ups[0].region, "région");
    assert_eq!((ups[0].error_rate, ups[0].price_in, ups[0].price_out), (0.25, 1.5, 10.0));
    assert_eq!((ups[0].latency_us, ups[0].in_flight, ups[0].weight), (1000, 7, 3));
}

#[test]
fn decodes_empty_table() {
    let rec = route_record(&[]);
    let mut t = UpstreamTable::new();
    let (_, ups) = decode_route(&rec, &mut t).unwrap();
    assert!(ups.is_empty());
}

#[test]
fn refuses_every_truncation_and_trailing_bytes() {
    let rec = route_record(&[("a", true, 300), ("b", false, 100)]);
    let mut t = UpstreamTable::new();
    for n in 0..rec.len() {
        assert!(decode_route(&rec[..n], &mut t).is_err(), "truncated at {}", n);
    }
    let mut long = rec.clone();
    long.push(0);
    assert!(decode_route(&long, &mut t).is_err());
}

#[test]
fn refuses_huge_counts() {
    let mut rec = route_record(&[]);
    let n = rec.len();
    rec[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_route(&rec, &mut UpstreamTable::new()).is_err());
}

#[test]
fn refuses_non_utf8_names() {
    let rec = route_record(&[("\u{0}", true, 1)]);
    let mut bad = rec.clone();
    // Replace the model's first byte with an invalid UTF-8 lead byte.
    bad[12] = 0xff;
    assert!(decode_route(&bad, &mut UpstreamTable::new()).is_err());
    assert!(decode_route(&rec, &mut UpstreamTable::new()).is_ok());
}

#[test]
fn decision_encodes_indices_and_refuses_out_of_range() {
    let mut buf = Vec::new();
    let mut d = Decision::new(&mut buf, 3);
    d.push(2);
    d.push(0);
    assert_eq!((d.len(), d.get(0), d.get(1), d.get(2)), (2, Some(2), Some(0), None));
    assert!(!d.failed());
    d.push(3);
    assert!(d.failed());
}

#[test]
fn decision_sorts_stably_without_allocating() {
    let mut buf = Vec::with_capacity(8);
    let mut d = Decision::new(&mut buf, 5);
    for i in 0..5 {
        d.push(i);
    }
    let key = [3, 1, 3, 0, 1];
    d.sort_by(|a, b| key[a].cmp(&key[b]));
    let got: Vec<usize> = (0..d.len()).map(|i| d.get(i).unwrap()).collect();
    assert_eq!(got, vec![3, 1, 4, 0, 2]);
}

fn redact_record(body: &[u8], taken: &[&str]) -> Vec<u8> {
    let mut b = Vec::new();
    put_u32(&mut b, 0);
    put_str(&mut b, body);
    put_u32(&mut b, taken.len() as u32);
    for t in taken {
        put_str(&mut b, t.as_bytes());
    }
    b
}

#[test]
fn redaction_numbers_per_kind_skips_taken_and_reuses() {
    let rec = redact_record(b"a@x.io b@x.io a@x.io", &["<EMAIL_1>"]);
    let (body, taken) = decode_redact(&rec).unwrap();
    assert_eq!(body, b"a@x.io b@x.io a@x.io");
    assert!(taken.contains(b"<EMAIL_1>") && !taken.contains(b"<EMAIL_2>"));
    let mut bufs = RedactBuffers::new();
    let mut r = Redaction::new(&mut bufs, taken);
    r.replace("EMAIL", b"a@x.io");
    r.copy(b" ");
    r.replace("EMAIL", b"b@x.io");
    r.copy(b" ");
    r.replace("EMAIL", b"a@x.io");
    r.copy(b" ");
    r.replace("PHONE", b"555");
    assert_eq!(r.body(), b"<EMAIL_2> <EMAIL_3> <EMAIL_2> <PHONE_1>");
    assert_eq!(r.len(), 3);
    assert_eq!(r.pair(0), Some((&b"<EMAIL_2>"[..], &b"a@x.io"[..])));
    assert_eq!(r.pair(2), Some((&b"<PHONE_1>"[..], &b"555"[..])));
}

#[test]
fn redaction_reuses_buffers() {
    let mut bufs = RedactBuffers::new();
    for _ in 0..3 {
        let mut r = Redaction::new(&mut bufs, Taken::none());
        r.replace("EMAIL", b"a@x.io");
        assert_eq!(r.body(), b"<EMAIL_1>");
        assert_eq!(r.len(), 1);
    }
}

#[test]
fn refuses_bad_redact_records() {
    let rec = redact_record(b"hello", &["<EMAIL_1>"]);
    for n in 0..rec.len() {
        assert!(decode_redact(&rec[..n]).is_err(), "truncated at {}", n);
    }
    assert!(decode_redact(&rec).is_ok());
}

#[test]
fn find_byte_agrees_with_position() {
    let mut hay = Vec::new();
    for i in 0..300u32 {
        hay.push((i * 7 % 251) as u8);
    }
    for needle in [0u8, 1, 64, 0x80, 0xff, 250] {
        for start in 0..40 {
            let h = &hay[start..];
            assert_eq!(find_byte(h, needle), h.iter().position(|&c| c == needle), "needle {} start {}", needle, start);
        }
    }
    assert_eq!(find_byte(b"", b'@'), None);
    assert_eq!(find_byte(b"aaaaaaaaaaaaaaa@", b'@'), Some(15));
}
