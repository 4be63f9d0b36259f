package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const baseBody = `{"model":"gpt-5.5","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hi"}],"temperature":0,"seed":42,"max_tokens":64}`

func mustKey(t testing.TB, tenant, endpoint, model, body string) Key {
	t.Helper()
	var k Keyer
	key, err := k.Key(tenant, endpoint, []byte(model), []byte(body))
	if err != nil {
		t.Fatalf("Key(%s): %v", body, err)
	}
	return key
}

func TestKeyEquivalent(t *testing.T) {
	tests := []struct{ name, a, b string }{
		{"reordered top-level keys", baseBody,
			`{"seed":42,"max_tokens":64,"temperature":0,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hi"}],"model":"gpt-5.5"}`},
		{"reordered nested keys", baseBody,
			`{"model":"gpt-5.5","messages":[{"content":"Be brief.","role":"system"},{"content":"Say hi","role":"user"}],"temperature":0,"seed":42,"max_tokens":64}`},
		{"whitespace", baseBody,
			"{ \"model\" : \"gpt-5.5\" ,\n\t\"messages\" : [ { \"role\" : \"system\" , \"content\" : \"Be brief.\" } ,\r\n { \"role\":\"user\",\"content\":\"Say hi\" } ] , \"temperature\" : 0 , \"seed\" : 42 , \"max_tokens\" : 64 }\n"},
		{"stream flag", baseBody, strings.Replace(baseBody, `"seed"`, `"stream":true,"seed"`, 1)},
		{"stream false", baseBody, strings.Replace(baseBody, `"seed"`, `"stream":false,"seed"`, 1)},
		{"stream_options", baseBody, strings.Replace(baseBody, `"seed"`, `"stream":true,"stream_options":{"include_usage":true},"seed"`, 1)},
		{"user", baseBody, strings.Replace(baseBody, `"seed"`, `"user":"u-123","seed"`, 1)},
		{"metadata", baseBody, strings.Replace(baseBody, `"seed"`, `"metadata":{"a":"b"},"seed"`, 1)},
		{"safety_identifier", baseBody, strings.Replace(baseBody, `"seed"`, `"safety_identifier":"x","seed"`, 1)},
		{"excluded field first and last", baseBody,
			`{"user":"x","model":"other-ignored","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hi"}],"temperature":0,"seed":42,"max_tokens":64,"stream":true}`},
		{"model in body is keyed separately", baseBody, strings.Replace(baseBody, `gpt-5.5`, `alias`, 1)},
		{"escapes", baseBody, strings.Replace(baseBody, `"Say hi"`, `"\u0053ay\u0020h\u0069"`, 1)},
		{"escaped slash", `{"messages":[{"content":"a/b"}]}`, `{"messages":[{"content":"a\/b"}]}`},
		{"escaped key", baseBody, strings.Replace(baseBody, `"seed"`, `"\u0073eed"`, 1)},
		{"surrogate pair", `{"m":"😀"}`, `{"m":"\ud83d\ude00"}`},
		{"uppercase hex escape", `{"m":"é"}`, `{"m":"\u00E9"}`},
		{"control escape forms", `{"m":"a\nb"}`, `{"m":"a\u000ab"}`},
		{"number 1 == 1.0", `{"temperature":1}`, `{"temperature":1.0}`},
		{"number 1 == 1e0", `{"temperature":1}`, `{"temperature":1e0}`},
		{"number 1 == 0.1e1", `{"temperature":1}`, `{"temperature":0.1E+1}`},
		{"number 10 == 1e1", `{"max_tokens":10}`, `{"max_tokens":1e1}`},
		{"number 0.5 == 5e-1", `{"top_p":0.5}`, `{"top_p":5e-1}`},
		{"zero forms", `{"temperature":0}`, `{"temperature":-0.0e5}`},
		{"empty containers", `{"a":{},"b":[]}`, `{ "b" : [ ] , "a" : { } }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustKey(t, "acme", "/v1/chat/completions", "gpt-5.5", tt.a)
			b := mustKey(t, "acme", "/v1/chat/completions", "gpt-5.5", tt.b)
			if a != b {
				var ka, kb Keyer
				ka.Key("acme", "/v1/chat/completions", []byte("gpt-5.5"), []byte(tt.a))
				kb.Key("acme", "/v1/chat/completions", []byte("gpt-5.5"), []byte(tt.b))
				t.Errorf("keys differ\n a: %q\n b: %q", ka.canonical(), kb.canonical())
			}
		})
	}
}

func TestKeyDifferent(t *testing.T) {
	with := func(extra string) string { return strings.Replace(baseBody, `"seed":42`, `"seed":42,`+extra, 1) }
	tests := []struct{ name, body string }{
		{"messages content", strings.Replace(baseBody, "Say hi", "Say hello", 1)},
		{"messages role", strings.Replace(baseBody, `"role":"system"`, `"role":"developer"`, 1)},
		{"messages order", `{"model":"gpt-5.5","messages":[{"role":"user","content":"Say hi"},{"role":"system","content":"Be brief."}],"temperature":0,"seed":42,"max_tokens":64}`},
		{"temperature", strings.Replace(baseBody, `"temperature":0`, `"temperature":0.2`, 1)},
		{"seed", strings.Replace(baseBody, `"seed":42`, `"seed":43`, 1)},
		{"seed beyond 2^53", strings.Replace(baseBody, `"seed":42`, `"seed":9007199254740993`, 1)},
		{"max_tokens", strings.Replace(baseBody, `"max_tokens":64`, `"max_tokens":65`, 1)},
		{"top_p", with(`"top_p":0.5`)},
		{"tools", with(`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]`)},
		{"tool_choice", with(`"tool_choice":"required"`)},
		{"response_format", with(`"response_format":{"type":"json_object"}`)},
		{"stop", with(`"stop":["\n"]`)},
		{"max_completion_tokens", with(`"max_completion_tokens":64`)},
		{"logit_bias", with(`"logit_bias":{"50256":-100}`)},
		{"n", with(`"n":2`)},
		{"presence_penalty", with(`"presence_penalty":0.5`)},
		{"frequency_penalty", with(`"frequency_penalty":0.5`)},
		{"reasoning_effort", with(`"reasoning_effort":"high"`)},
		{"parallel_tool_calls", with(`"parallel_tool_calls":false`)},
		{"logprobs", with(`"logprobs":true`)},
		{"nested model is not excluded", strings.Replace(baseBody, `"content":"Say hi"`, `"content":"Say hi","model":"x"`, 1)},
		{"nested stream is not excluded", strings.Replace(baseBody, `"content":"Say hi"`, `"content":"Say hi","stream":true`, 1)},
		{"string vs number", strings.Replace(baseBody, `"seed":42`, `"seed":"42"`, 1)},
		{"null vs absent", with(`"top_p":null`)},
	}
	base := mustKey(t, "acme", "/v1/chat/completions", "gpt-5.5", baseBody)
	seen := map[Key]string{base: "base"}
	for _, tt := range tests {
		k := mustKey(t, "acme", "/v1/chat/completions", "gpt-5.5", tt.body)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s: same key as %s", tt.name, prev)
		}
		seen[k] = tt.name
	}
	for _, tt := range []struct{ name, tenant, endpoint, model string }{
		{"tenant", "other", "/v1/chat/completions", "gpt-5.5"},
		{"endpoint", "acme", "/v1/completions", "gpt-5.5"},
		{"model", "acme", "/v1/chat/completions", "gpt-5.5-mini"},
		{"length-prefixed fields", "acme/v1", "/chat/completions", "gpt-5.5"},
	} {
		k := mustKey(t, tt.tenant, tt.endpoint, tt.model, baseBody)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s: same key as %s", tt.name, prev)
		}
		seen[k] = tt.name
	}
}

func TestKeyCanonicalForm(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[3,{"d":"x","c":null}]}`, `{"a":[3,{"c":null,"d":"x"}],"b":1}`},
		{`{"n":[0,-0,1.50,100,12e-1,-0.001,1E400]}`, `{"n":[0,0,15e-1,1e2,12e-1,-1e-3,1e400]}`},
		{`{"s":"\"\\\/\b\f\n\r\t\u0001é\u00e9"}`, `{"s":"\"\\/\u0008\u000c\u000a\u000d\u0009\u0001éé"}`},
		{`{"s":"\ud83d\ude00"}`, "{\"s\":\"\U0001f600\"}"},
		{`{"stream":true,"user":"u","x":true}`, `{"x":true}`},
	}
	for _, tt := range tests {
		var k Keyer
		if _, err := k.Key("", "", nil, []byte(tt.in)); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		got := k.canonical()[3:] // three empty length prefixes
		if string(got) != tt.want {
			t.Errorf("canonical(%s)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestKeyErrors(t *testing.T) {
	deep := strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth)
	tests := []struct {
		in   string
		want error
	}{
		{``, ErrInvalidJSON},
		{`[]`, ErrInvalidJSON},
		{`"x"`, ErrInvalidJSON},
		{`{`, ErrInvalidJSON},
		{`{"a":}`, ErrInvalidJSON},
		{`{"a":1,}`, ErrInvalidJSON},
		{`{"a":1} x`, ErrInvalidJSON},
		{`{"a":01}`, ErrInvalidJSON},
		{`{"a":1.}`, ErrInvalidJSON},
		{`{"a":1e}`, ErrInvalidJSON},
		{`{"a":tru}`, ErrInvalidJSON},
		{`{"a":"\x"}`, ErrInvalidJSON},
		{`{"a":"\u12"}`, ErrInvalidJSON},
		{"{\"a\":\"\x01\"}", ErrInvalidJSON},
		{`{"a":[1 2]}`, ErrInvalidJSON},
		// Issue 15: readers disagree on duplicates, and lossy decoding merges
		// different strings, so neither may ever be keyed.
		{`{"a":1,"a":2}`, ErrInvalidJSON},
		{`{"b":0,"a":1,"a":1}`, ErrInvalidJSON},
		{`{"m":[{"content":"x","content":"y"}]}`, ErrInvalidJSON},
		{`{"a":1,"\u0061":2}`, ErrInvalidJSON},
		{`{"s":"\ud800"}`, ErrInvalidJSON},
		{`{"s":"\udbff"}`, ErrInvalidJSON},
		{`{"s":"\udc00\ud800"}`, ErrInvalidJSON},
		{"{\"s\":\"\xff\"}", ErrInvalidJSON},
		{deep, nil},
		{`{"x":` + deep + `}`, ErrTooDeep},
		{`{"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`, ErrTooDeep},
	}
	for _, tt := range tests {
		var k Keyer
		_, err := k.Key("t", "/e", nil, []byte(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("Key(%.40q) = %v, want %v", tt.in, err, tt.want)
		}
	}
}

// TestKeyReuse guards the scratch buffers: a Keyer reused across bodies of
// different shapes gives the same keys as a fresh one.
func TestKeyReuse(t *testing.T) {
	bodies := []string{baseBody, `{"b":{"y":1,"x":2},"a":[{"q":1,"p":2}]}`, `{"z":1}`, baseBody}
	var shared Keyer
	for _, b := range bodies {
		got, err := shared.Key("t", "/e", nil, []byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if want := mustKey(t, "t", "/e", "", b); got != want {
			t.Errorf("reused Keyer gave a different key for %s", b)
		}
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{
		baseBody,
		`{"a":{"c":1,"b":[1,2,{"y":null,"x":true}]},"stream":true}`,
		`{"s":"\u0041\ud83d\ude00\n","n":-1.25e+3}`,
		`{"t":1,"t":2}`,
		`{"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"b":{},"a":{}}}}}]}`,
		"{\"x\":\"\xff\"}",
		`{"x":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var k Keyer
		key, err := k.Key("t", "/v1/chat/completions", []byte("m"), body)
		if err != nil {
			return
		}
		// Reformat through encoding/json (sorted keys, no whitespace,
		// different escapes, numbers kept literally): same key.
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			t.Fatalf("Key accepted what encoding/json rejects: %q", body)
		}
		if dec.More() {
			return
		}
		re, err := json.MarshalIndent(v, " ", "\t")
		if err != nil {
			return
		}
		key2, err := k.Key("t", "/v1/chat/completions", []byte("m"), re)
		if err != nil {
			t.Fatalf("reformatted body rejected: %v\n%s", err, re)
		}
		if key != key2 {
			t.Fatalf("reformatting changed the key\n in: %q\nout: %q", body, re)
		}
	})
}

func BenchmarkKey(b *testing.B) {
	body := benchBody(2048)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var k Keyer
	for b.Loop() {
		if _, err := k.Key("acme", "/v1/chat/completions", []byte("gpt-5.5"), body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash2KB(b *testing.B) {
	body := benchBody(2048)
	b.SetBytes(int64(len(body)))
	b.Run("sha256", func(b *testing.B) {
		for b.Loop() {
			hashKey(body)
		}
	})
	b.Run("maphash2", func(b *testing.B) {
		for b.Loop() {
			maphash2(body)
		}
	})
}

// benchBody builds a realistic chat request of about n bytes, keys unsorted.
func benchBody(n int) []byte {
	b := []byte(`{"model":"gpt-5.5","temperature":0,"seed":7,"stream":true,"messages":[{"role":"system","content":"You are a helpful assistant. Answer briefly."}`)
	for i := 0; len(b) < n-120; i++ {
		b = append(b, `,{"role":"user","content":"Tell me about the weather in Paris, \"briefly\", in one line please: `...)
		b = append(b, byte('a'+i%26))
		b = append(b, `"}`...)
	}
	b = append(b, `],"max_tokens":256,"stream_options":{"include_usage":true},"top_p":1}`...)
	return b
}
