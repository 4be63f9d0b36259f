package main

import (
	"errors"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestParseHead(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		status     int
		want       map[string]string // header → value; "" = must be absent
		err        error
	}{
		{
			name:   "cache hit as curl -D writes it",
			head:   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Wed, 25 Nov 2026 20:00:00 GMT\r\nContent-Length: 512\r\nx-switchyard-cache: hit\r\nAge: 3\r\n\r\n",
			status: 200,
			want:   map[string]string{"Content-Type": "application/json", "X-Switchyard-Cache": "hit", "Age": "3", "Date": "", "Content-Length": ""},
		},
		{
			name:   "interim 100 Continue: the last block wins",
			head:   "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
			status: 200,
			want:   map[string]string{"Content-Type": "text/event-stream", "Transfer-Encoding": ""},
		},
		{name: "no status line", head: "Content-Type: a/b\r\n\r\n", err: errBadHeaders},
		{name: "empty", head: "", err: errBadHeaders},
		{name: "bad status", head: "HTTP/1.1 OK\r\n", err: errBadHeaders},
		{name: "header without colon", head: "HTTP/1.1 200 OK\r\nnonsense\r\n", err: errBadHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r fasthttp.Response
			err := parseHead([]byte(tc.head), &r)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if r.StatusCode() != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode(), tc.status)
			}
			for k, v := range tc.want {
				got := string(r.Header.Peek(k))
				if k == "Content-Type" {
					got = string(r.Header.ContentType())
				}
				if got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// FuzzParseHead: any input either parses or returns errBadHeaders-wrapped
// errors, never panics, and a parsed head has a valid status.
func FuzzParseHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-switchyard-cache: hit\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"))
	f.Add([]byte("HTTP/1.1\r\n"))
	f.Add([]byte(":\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		var r fasthttp.Response
		if err := parseHead(head, &r); err != nil {
			if !errors.Is(err, errBadHeaders) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if r.StatusCode() == 0 {
			t.Fatal("parsed without a status")
		}
	})
}
