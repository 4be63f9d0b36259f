package mockcloud

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// The mocks parse untrusted bytes from whatever client a test points at them; these fuzz tests
// guard that no input panics the parsers and that hand-built JSON stays valid.

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x1f\n\r\t", "bad utf8 \xff\xfe", "sep \u2028\u2029", "ünïcödé 🚀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("invalid JSON %q for %q: %v", b, s, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip %q -> %q", s, back)
		}
	})
}

func FuzzParseOpenAIBodies(f *testing.F) {
	seeds := []string{
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"},"b":{"enum":[1,2]},"c":{"type":"boolean"}}}}}],"tool_choice":"required"}`,
		`{"model":"m","messages":[],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		`{"model":"m","prompt":["a","b"],"max_tokens":3}`,
		`{"model":"text-embedding-3-small","input":[[1,2,3]],"encoding_format":"base64","dimensions":8}`,
		`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"x"}]}],"instructions":"be nice"}`,
		`{`, `[]`, `null`, `{"messages":"nope"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if r, err := parseChat(body, true); err == nil && r.tool != nil && !json.Valid([]byte(r.tool.args)) {
			t.Fatalf("tool args not JSON: %s", r.tool.args)
		}
		_, _ = parseCompletion(body, true)
		if r, err := parseEmbeddings(body, true); err == nil && (r.dims < 0 || r.dims > 4096) {
			t.Fatalf("dims %d", r.dims)
		}
		_, _ = parseResponses(body)
	})
}

func FuzzParseConverse(f *testing.F) {
	for _, s := range []string{
		`{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"Say hi"}]}],"inferenceConfig":{"maxTokens":64}}`,
		`{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"w","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}}}}}}],"toolChoice":{"any":{}}}}`,
		`{"messages":[{"role":"assistant","content":[]}]}`, `{`, `{"messages":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if r, err := parseConverse(body); err == nil && r.tool != nil && !json.Valid([]byte(r.tool.args)) {
			t.Fatalf("tool input not JSON: %s", r.tool.args)
		}
	})
}

func FuzzSigV4Parsing(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250102/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=e6f2", "a=1&b=%20&c")
	f.Add("AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=", "%zz=%")
	f.Add("Bearer x", "")
	f.Fuzz(func(t *testing.T, authz, query string) {
		if a, e := parseSigV4Header(authz); e == nil && (a.akid == "" || a.signature == "" || len(a.signedHeaders) == 0) {
			t.Fatalf("accepted incomplete header %q", authz)
		}
		q := canonicalQuery(query)
		if strings.ContainsAny(q, " +") {
			t.Fatalf("canonical query %q has unencoded characters", q)
		}
		_ = canonicalURI(query)
	})
}

func FuzzVerifyJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	f.Add("a.b")
	f.Add("..")
	va, err := newVertexAuth(mockSA(f), 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if c, _ := va.verifyJWT(tok); c != nil {
			t.Fatalf("forged token accepted: %q", tok)
		}
	})
}
