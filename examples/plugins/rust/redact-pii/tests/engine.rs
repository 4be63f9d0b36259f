//! Native tests of the engine: `cargo test --target x86_64-unknown-linux-gnu`.

use redact_pii::engine::Engine;

fn redact(cfg: &str, body: &str) -> (String, Vec<(String, String)>) {
    let mut e = Engine::new(cfg.as_bytes()).expect("config");
    let mut out = Vec::new();
    let hit = e.redact(body.as_bytes(), std::iter::empty(), &mut out).expect("redact");
    if !hit {
        return (body.to_string(), vec![]);
    }
    let p = e.pairs();
    let pairs = (0..p.len())
        .map(|i| {
            let (a, b) = p.get(i);
            (String::from_utf8(a.to_vec()).unwrap(), String::from_utf8(b.to_vec()).unwrap())
        })
        .collect();
    (String::from_utf8(out).unwrap(), pairs)
}

fn chat(s: &str) -> String {
    format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#, s)
}

#[test]
fn entities() {
    let cases: &[(&str, &str)] = &[
        ("mail bob@bücher.de now", "<EMAIL_1>"),
        ("mail hans.müller@example.com now", "<EMAIL_1>"),
        ("mail jane\\u0040example.com now", "<EMAIL_1>"),
        ("call +1 (212) 555-0123 now", "<PHONE_1>"),
        ("call (212) 555-0123 now", "<PHONE_1>"),
        ("call 212-555-0123 now", "<PHONE_1>"),
        ("call +44 20 7946 0958 now", "<PHONE_1>"),
        ("call 020 7946 0958 now", "<PHONE_1>"),
        ("call +44 (0)20 7946 0958 now", "<PHONE_1>"),
        ("call 030 12345678 now", "<PHONE_1>"),
        ("call 0151/23456789 now", "<PHONE_1>"),
        ("call 06 12 34 56 78 now", "<PHONE_1>"),
        ("call 06.12.34.56.78 now", "<PHONE_1>"),
        ("call 98765 43210 now", "<PHONE_1>"),
        ("call (11) 91234-5678 now", "<PHONE_1>"),
        ("call 03-1234-5678 now", "<PHONE_1>"),
        ("call 090-1234-5678 now", "<PHONE_1>"),
        ("card 4111 1111 1111 1111 now", "<CARD_1>"),
        ("card 4111-1111-1111-1111 now", "<CARD_1>"),
        ("card 378282246310005 now", "<CARD_1>"),
        ("iban DE89 3704 0044 0532 0130 00 now", "<IBAN_1>"),
        ("iban GB82WEST12345698765432 now", "<IBAN_1>"),
        ("ssn 123-45-6789 now", "<SSN_1>"),
        ("ip 192.168.1.10 now", "<IP_1>"),
        ("ip 10.0.0.1:8080 now", "<IP_1>:8080"),
        ("call 098765 43210 now", "<PHONE_1>"),
        ("ip 2001:db8::8a2e:370:7334 now", "<IP_1>"),
        ("ip ::1 now", "<IP_1>"),
        ("ip fe80::1ff:fe23:4567:890a now", "<IP_1>"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123 now", "<SECRET_1>"),
        ("key AKIAIOSFODNN7EXAMPLE now", "<SECRET_1>"),
        ("key ghp_abcdefghijklmnopqrstuvwxyz0123456789 now", "<SECRET_1>"),
        ("key AIzaSyA-1234567890abcdefghijklmnopqrstu now", "<SECRET_1>"),
        ("key xoxb-123456789012-abcdefghij now", "<SECRET_1>"),
        ("key -----BEGIN RSA PRIVATE KEY-----\\nMIIabc\\n-----END RSA PRIVATE KEY----- now", "<SECRET_1>"),
        ("tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U now", "<JWT_1>"),
    ];
    for (text, want) in cases {
        let (out, pairs) = redact("{}", &chat(text));
        assert!(out.contains(want), "{:?}: got {}", text, out);
        assert_eq!(pairs.len(), 1, "{:?}: {:?}", text, pairs);
        assert!(out.ends_with(" now\"}]}"), "{:?}: got {}", text, out);
    }
}

#[test]
fn lookalikes_survive() {
    for text in [
        "on 2024-01-15 10:30:45 UTC",
        "on 15.01.2024 at 10:30",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "order #A-10442 and ORD-2024-0001234",
        "version 1.2.3 and v10.0.19045.2364",
        "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2",
        "digits 4111 1111 1111 1112",
        "port 8080, localhost:5432",
        "costs $1,234,567.89 or 1.234.567,89 EUR or 1 234 567 890",
        "ts 1733059200 and 1733059200123",
        "std::vector and a::b",
        "mac 00:1a:2b:3c:4d:5e",
        "zip 12345-6789",
        "ssn-like 666-12-3456 and 900-12-3456",
        "ratio 3:2",
    ] {
        let (out, pairs) = redact("{}", &chat(text));
        assert!(pairs.is_empty(), "{:?} redacted: {} {:?}", text, out, pairs);
    }
}

#[test]
fn same_value_same_placeholder_and_keys_untouched() {
    let body = r#"{"bob@x.com":"bob@x.com","b":["amy@x.com","bob@x.com"],"model":"bob@x.com"}"#;
    let (out, pairs) = redact("{}", body);
    assert_eq!(out, r#"{"bob@x.com":"<EMAIL_1>","b":["<EMAIL_2>","<EMAIL_1>"],"model":"bob@x.com"}"#);
    assert_eq!(pairs.len(), 2);
}

#[test]
fn taken_numbers_are_skipped() {
    let mut e = Engine::new(b"{}").unwrap();
    let mut out = Vec::new();
    let taken: [&[u8]; 2] = [b"<EMAIL_1>", b"<EMAIL_3>"];
    assert!(e.redact(br#"["a@x.com","b@x.com"]"#, taken.iter().copied(), &mut out).unwrap());
    assert_eq!(String::from_utf8(out).unwrap(), r#"["<EMAIL_2>","<EMAIL_4>"]"#);
}

#[test]
fn terms_and_patterns() {
    let cfg = r#"{"entities":[],"terms":["Project Falcon","Acme","Müller"],"patterns":["EMP-[0-9]{6}"]}"#;
    let (out, _) = redact(cfg, &chat("project falcon at ACME for MÜLLER, acmeish, EMP-123456"));
    assert_eq!(out, chat("<TERM_1> at <TERM_2> for <TERM_3>, acmeish, <PATTERN_1>"));
}

#[test]
fn bad_config_refused() {
    for cfg in [r#"{"entities":["nope"]}"#, r#"{"foo":1}"#, r#"{"patterns":["("]}"#, r#"{"terms":[""]}"#, "[1"] {
        assert!(Engine::new(cfg.as_bytes()).is_err(), "{}", cfg);
    }
}

#[test]
fn bad_json_refused() {
    let mut e = Engine::new(b"{}").unwrap();
    let mut out = Vec::new();
    for b in [&b"{"[..], b"{\"a\":}", b"[\"x\\q\"]", b"{} x"] {
        assert!(e.redact(b, std::iter::empty(), &mut out).is_err());
        assert!(out.is_empty());
    }
}

#[test]
fn nested_json_escapes_separate_words() {
    // Tool call arguments: JSON inside a JSON string, '<' escaped twice.
    let body = r#"{"arguments":"{\"q\":\"\\u003cbob@x.com\\u003e and \\u003ceyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc\\u003e\\nAcme\"}"}"#;
    let (out, pairs) = redact(r#"{"terms":["Acme"]}"#, body);
    assert_eq!(pairs.len(), 3, "{}", out);
    assert_eq!(out, r#"{"arguments":"{\"q\":\"\\u003c<EMAIL_1>\\u003e and \\u003c<JWT_1>\\u003e\\n<TERM_1>\"}"}"#);
}

#[test]
fn card_shaped_runs_are_skipped_whole() {
    let (out, pairs) = redact("{}", &chat("item 6508 0670 4412 5578, and ticket 4471 212-555-0123"));
    assert_eq!(pairs.len(), 1, "{}", out);
    assert!(out.contains("6508 0670 4412 5578"), "{}", out);
}

#[test]
fn compact_e164() {
    let (out, pairs) = redact("{}", &chat("E.164 compact: +4915123456789 and +14155550123."));
    assert_eq!(pairs.len(), 2, "{}", out);
}
