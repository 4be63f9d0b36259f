package oaiwire

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/provider"
)

const refStream = "data: {\"id\":\"chatcmpl-123\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n" +
	"data: {\"id\":\"chatcmpl-123\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n" +
	"data: {\"id\":\"chatcmpl-123\",\"choices\":[],\"usage\":{\"prompt_tokens\":9}}\n\n" +
	"data: [DONE]\n\n"

type sseEvent struct{ name, data string }

func readSSE(r *Reader) ([]sseEvent, error) {
	var out []sseEvent
	var ev provider.Event
	for {
		if err := r.Next(&ev); err != nil {
			return out, err
		}
		out = append(out, sseEvent{string(ev.Name), string(ev.Data)})
	}
}

func TestReader(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []sseEvent
		end  error
	}{
		{"reference", refStream, []sseEvent{
			{"", `{"id":"chatcmpl-123","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`},
			{"", `{"id":"chatcmpl-123","choices":[{"index":0,"delta":{"content":"Hello"}}]}`},
			{"", `{"id":"chatcmpl-123","choices":[],"usage":{"prompt_tokens":9}}`},
		}, io.EOF},
		{"crlf, comments, no space, event name", ": keep-alive\r\n\r\nevent: x\r\ndata:{\"a\":1}\r\nid: 7\r\n\r\ndata: [DONE]\r\n\r\n",
			[]sseEvent{{"x", `{"a":1}`}}, io.EOF},
		{"multi-line data", "data: {\"a\":\ndata: 1}\n\ndata: [DONE]\n\n", []sseEvent{{"", "{\"a\":\n1}"}}, io.EOF},
		{"no DONE", "data: {\"a\":1}\n\n", []sseEvent{{"", `{"a":1}`}}, io.ErrUnexpectedEOF},
		{"cut mid-event", "data: {\"a\":1}\n\ndata: {\"b\"", []sseEvent{{"", `{"a":1}`}}, io.ErrUnexpectedEOF},
		{"empty body", "", nil, io.ErrUnexpectedEOF},
		{"error word in content is not an error", "data: {\"choices\":[{\"delta\":{\"content\":\"\\\"error\\\"\"}}]}\n\ndata: [DONE]\n\n",
			[]sseEvent{{"", `{"choices":[{"delta":{"content":"\"error\""}}]}`}}, io.EOF},
		{"null error member", "data: {\"error\":null,\"x\":1}\n\ndata: [DONE]\n\n", []sseEvent{{"", `{"error":null,"x":1}`}}, io.EOF},
	}
	for _, tc := range cases {
		for rname, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r }, "one-byte": iotest.OneByteReader,
		} {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				got, err := readSSE(NewReader(wrap(strings.NewReader(tc.in)), nil))
				if err != tc.end {
					t.Fatalf("end = %v, want %v", err, tc.end)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Fatalf("event %d: got %q, want %q", i, got[i], tc.want[i])
					}
				}
			})
		}
	}
}

func TestReaderLongLine(t *testing.T) {
	big := strings.Repeat("x", 10000)
	got, err := readSSE(NewReader(strings.NewReader("data: {\"c\":\""+big+"\"}\n\ndata: [DONE]\n\n"), nil))
	if err != io.EOF || len(got) != 1 || got[0].data != `{"c":"`+big+`"}` {
		t.Fatalf("err %v, %d events", err, len(got))
	}
}

func TestReaderInStreamError(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		status  int
		typ     string
		code    string
		retry   bool
	}{
		{"openai server error", `{"error":{"message":"boom","type":"server_error","param":null,"code":null}}`, 500, "server_error", "", true},
		{"openai rate limit", `{"error":{"message":"slow","type":"rate_limit_error","code":"rate_limit_exceeded"}}`, 429, "rate_limit_error", "rate_limit_exceeded", true},
		{"google rpc", `{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}`, 429, "rate_limit_error", "RESOURCE_EXHAUSTED", true},
		{"invalid request", `{"error":{"message":"bad","type":"invalid_request_error"}}`, 400, "invalid_request_error", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := "data: {\"a\":1}\n\ndata: " + tc.payload + "\n\n"
			got, err := readSSE(NewReader(strings.NewReader(in), nil))
			var pe *provider.Error
			if len(got) != 1 || !errors.As(err, &pe) {
				t.Fatalf("events %d, err %v", len(got), err)
			}
			if pe.Status != tc.status || pe.Type != tc.typ || pe.Code != tc.code || pe.Retryable != tc.retry || pe.Message == "" {
				t.Fatalf("got %+v", *pe)
			}
		})
	}
}

func TestParseErrorBody(t *testing.T) {
	cases := []struct {
		name string
		body string
		ok   bool
		want ErrorBody
	}{
		{"google object", `{"error":{"code":429,"message":"Resource exhausted.","status":"RESOURCE_EXHAUSTED"}}`, true,
			ErrorBody{Message: "Resource exhausted.", NumCode: 429, Status: "RESOURCE_EXHAUSTED"}},
		{"google array with RetryInfo", `[{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure"},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"28s"}]}}]`, true,
			ErrorBody{Message: "m", NumCode: 429, Status: "RESOURCE_EXHAUSTED", RetryDelay: 28 * time.Second}},
		{"openai", `{"error":{"message":"m","type":"invalid_request_error","param":"model","code":"model_not_found"}}`, true,
			ErrorBody{Message: "m", Type: "invalid_request_error", Param: "model", Code: "model_not_found"}},
		{"azure string code", `{"error":{"code":"429","message":"m"}}`, true, ErrorBody{Message: "m", Code: "429", NumCode: 429}},
		{"string error", `{"error":"invalid_grant"}`, true, ErrorBody{Message: "invalid_grant"}},
		{"html", `<html><body>404</body></html>`, false, ErrorBody{}},
		{"aws", `{"message":"x"}`, false, ErrorBody{}},
		{"empty array", `[]`, false, ErrorBody{}},
		{"empty", ``, false, ErrorBody{}},
	}
	for _, tc := range cases {
		var p fastjson.Parser
		got, ok := ParseErrorBody(&p, []byte(tc.body))
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          `"plain"`,
		"q\"b\\":         `"q\"b\\"`,
		"\n\r\t\x01\x1f": `"\n\r\t\u0001\u001f"`,
		"a\u2028b\u2029": `"a\u2028b\u2029"`,
		"é€":             `"é€"`,
	} {
		if got := string(AppendString(nil, []byte(in))); got != want {
			t.Errorf("%q → %s, want %s", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	s := strings.Repeat("é", MaxMessageBytes)
	got := Truncate(s)
	if len(got) > MaxMessageBytes+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Fatalf("len %d", len(got))
	}
	if Truncate("short") != "short" {
		t.Fatal("short changed")
	}
}

// FuzzReader: the reader ends with an error on any input, never panics, and
// never loops.
func FuzzReader(f *testing.F) {
	f.Add([]byte(refStream))
	f.Add([]byte("event: e\r\ndata: {\"error\":{\"code\":500}}\r\n\r\n"))
	f.Add([]byte(": c\n\ndata:\ndata\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(strings.NewReader(string(in)), nil)
		var ev provider.Event
		for i := 0; i <= len(in)+1; i++ {
			if err := r.Next(&ev); err != nil {
				return
			}
		}
		t.Fatal("reader did not end")
	})
}

// FuzzParseErrorBody: never panics.
func FuzzParseErrorBody(f *testing.F) {
	f.Add([]byte(`[{"error":{"code":429,"details":[{"@type":"google.rpc.RetryInfo","retryDelay":"1s"}]}}]`))
	f.Add([]byte(`{"error":{"message":"m","type":"t","code":"c"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var p fastjson.Parser
		ParseErrorBody(&p, in)
	})
}
