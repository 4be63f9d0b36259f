package openai

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const refStream = "data: {\"id\":\"chatcmpl-123\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n" +
	"data: {\"id\":\"chatcmpl-123\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n" +
	"data: {\"id\":\"chatcmpl-123\",\"choices\":[],\"usage\":{\"prompt_tokens\":9}}\n\n" +
	"data: [DONE]\n\n"

type sseEvent struct{ name, data string }

func readSSE(r *SSEReader) ([]sseEvent, error) {
	var out []sseEvent
	var ev Event
	for {
		if err := r.Next(&ev); err != nil {
			return out, err
		}
		out = append(out, sseEvent{string(ev.Name), string(ev.Data)})
	}
}

func TestSSEReaderCompat(t *testing.T) {
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
				got, err := readSSE(AcquireSSEReader(wrap(strings.NewReader(tc.in)), true))
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

func TestSSEReaderLongLine(t *testing.T) {
	big := strings.Repeat("x", 10000)
	got, err := readSSE(AcquireSSEReader(strings.NewReader("data: {\"c\":\""+big+"\"}\n\ndata: [DONE]\n\n"), true))
	if err != io.EOF || len(got) != 1 || got[0].data != `{"c":"`+big+`"}` {
		t.Fatalf("err %v, %d events", err, len(got))
	}
}

func TestSSEReaderErrorShapes(t *testing.T) {
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
		{"google array", `[{"error":{"code":503,"message":"Unavailable","status":"UNAVAILABLE"}}]`, 503, "server_error", "UNAVAILABLE", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := "data: {\"a\":1}\n\ndata: " + tc.payload + "\n\n"
			got, err := readSSE(AcquireSSEReader(strings.NewReader(in), true))
			var pe *APIError
			if len(got) != 1 || !errors.As(err, &pe) {
				t.Fatalf("events %d, err %v", len(got), err)
			}
			if pe.Status != tc.status || pe.Type != tc.typ || pe.Code != tc.code || pe.Message == "" {
				t.Fatalf("got %+v", *pe)
			}
		})
	}
}

// FuzzSSEReader: the reader ends with an error on any input, never panics, and
// never loops.
func FuzzSSEReader(f *testing.F) {
	f.Add([]byte(refStream))
	f.Add([]byte("event: e\r\ndata: {\"error\":{\"code\":500}}\r\n\r\n"))
	f.Add([]byte(": c\n\ndata:\ndata\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := AcquireSSEReader(strings.NewReader(string(in)), true)
		var ev Event
		for i := 0; i <= len(in)+1; i++ {
			if err := r.Next(&ev); err != nil {
				return
			}
		}
		t.Fatal("reader did not end")
	})
}
