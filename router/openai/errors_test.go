package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"unicode/utf8"
)

func TestAppendErrorRoundTrip(t *testing.T) {
	tests := []struct {
		name, message, typ, param, code string
	}{
		{name: "plain", message: "The model `gpt-9` does not exist.", typ: TypeInvalidRequest, param: "model", code: "model_not_found"},
		{name: "null param and code", message: "Rate limit reached.", typ: TypeRateLimit},
		{name: "quotes and backslashes", message: `say "hi" \ C:\path\"x"`, typ: TypeInvalidRequest, param: `a"b`, code: `c\d`},
		{name: "control characters", message: "a\x00b\x01\x1f\n\r\t\b\f\x7f", typ: TypeServer},
		{name: "unicode", message: "Größe 😀 日本語 \u2028\u2029 end", typ: TypeAPI, code: "ü"},
		{name: "html is not escaped", message: "<script>&amp;</script>", typ: TypeInvalidRequest},
		{name: "empty message", message: "", typ: TypeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := AppendError([]byte("prefix:"), tt.message, tt.typ, tt.param, tt.code)
			body, ok := bytes.CutPrefix(out, []byte("prefix:"))
			if !ok {
				t.Fatalf("dst prefix lost: %q", out)
			}
			var got struct {
				Error map[string]*string `json:"error"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("not JSON: %v: %s", err, body)
			}
			if len(got.Error) != 4 {
				t.Errorf("error object has %d keys, want message, type, param, code: %s", len(got.Error), body)
			}
			for key, want := range map[string]string{"message": tt.message, "type": tt.typ, "param": tt.param, "code": tt.code} {
				v, present := got.Error[key]
				switch {
				case !present:
					t.Errorf("key %q missing", key)
				case v == nil && (key == "message" || key == "type" || want != ""):
					t.Errorf("%s = null, want %q", key, want)
				case v != nil && (key == "param" || key == "code") && want == "":
					t.Errorf("%s = %q, want null", key, *v)
				case v != nil && *v != want:
					t.Errorf("%s = %q, want %q", key, *v, want)
				}
			}
		})
	}
}

func TestAppendErrorExact(t *testing.T) {
	got := string(AppendError(nil, "Invalid type for 'n'.", TypeInvalidRequest, "n", ""))
	want := `{"error":{"message":"Invalid type for 'n'.","type":"invalid_request_error","param":"n","code":null}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{`"\`, `"\"\\"`},
		{"\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"<>&", `"<>&"`},
		{"é😀", `"é😀"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // a UTF-8-encoded surrogate is invalid UTF-8
	}
	for _, tt := range tests {
		got := AppendJSONString(nil, []byte(tt.in))
		if string(got) != tt.want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if !utf8.Valid(got) || !json.Valid(got) {
			t.Errorf("AppendJSONString(%q) = %q is not valid UTF-8 JSON", tt.in, got)
		}
	}
}

// FuzzAppendJSONString checks that any input round-trips through encoding/json exactly as
// encoding/json's own encoding would (invalid UTF-8 replaced by U+FFFD).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\x00\n", "é😀\u2028", "a\xffb", "\xed\xa0\x80", "<>&"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := AppendJSONString(nil, in)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("AppendJSONString(%q) = %q: %v", in, out, err)
		}
		want, _ := json.Marshal(string(in))
		var wantStr string
		if err := json.Unmarshal(want, &wantStr); err != nil {
			t.Fatal(err)
		}
		if got != wantStr {
			t.Fatalf("round trip of %q = %q, want %q", in, got, wantStr)
		}
		if !utf8.Valid(out) {
			t.Fatalf("output %q is not valid UTF-8", out)
		}
	})
}

func TestTypeForStatus(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{400, "invalid_request_error"},
		{401, "authentication_error"},
		{403, "permission_error"},
		{404, "invalid_request_error"},
		{405, "invalid_request_error"},
		{408, "invalid_request_error"},
		{409, "invalid_request_error"},
		{413, "invalid_request_error"},
		{415, "invalid_request_error"},
		{422, "invalid_request_error"},
		{429, "rate_limit_error"},
		{500, "server_error"},
		{502, "server_error"},
		{503, "server_error"},
		{504, "server_error"},
		{200, "api_error"},
		{0, "api_error"},
	}
	for _, tt := range tests {
		if got := TypeForStatus(tt.status); got != tt.want {
			t.Errorf("TypeForStatus(%d) = %q, want %q", tt.status, got, tt.want)
		}
	}
}

func ExampleAppendError() {
	body := AppendError(nil, "The model 'gpt-9' does not exist.", TypeForStatus(404), "model", "model_not_found")
	fmt.Println(string(body))
	// Output: {"error":{"message":"The model 'gpt-9' does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}}
}
