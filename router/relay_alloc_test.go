//go:build !race

package router_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/router/config"
)

// sseUpstream answers every request with one chat stream of n events and
// [DONE], from bytes built once (the upstream allocates nothing per request).
func sseUpstream(t testing.TB, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}` + "\n\n")
	}
	b.WriteString("data: [DONE]\n\n")
	return fixedUpstream(t, "text/event-stream", []byte(b.String()))
}

// The stream relay allocates nothing per event (issue 16): a streamed miss
// of 300 events, written to the client through the relay's WriteTo (the path
// fasthttp takes for a live stream), allocates no more than one of 3 events.
func TestStreamRelayEventAllocs(t *testing.T) {
	perRequest := func(events int) (float64, int) {
		u := config.Upstream{Name: "sse", Provider: "openai", BaseURL: sseUpstream(t, events), Auth: config.Auth{APIKey: "k"},
			Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini"}}
		srv := handlerFor(t, &config.Config{Upstreams: []config.Upstream{u}, Cache: config.Cache{Policy: "off"}})
		ctx := requestCtx(`{"model":"gpt-4o-mini","temperature":0.7,"stream":true,"messages":[{"role":"user","content":"relay me"}]}`, "")
		var out countingWriter
		bw := bufio.NewWriterSize(&out, 4<<10)
		run := func() {
			ctx.Response.Reset()
			srv.Handle(ctx)
			if err := ctx.Response.Write(bw); err != nil { // WriteTo, then Close
				t.Fatal(err)
			}
			bw.Flush()
		}
		run() // warm pools and buffers
		run()
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d", ctx.Response.StatusCode())
		}
		out.n = 0
		allocs := testing.AllocsPerRun(50, run)
		return allocs, out.n / 51
	}
	few, fewBytes := perRequest(3)
	many, manyBytes := perRequest(300)
	if manyBytes < 300*100 || fewBytes >= manyBytes {
		t.Fatalf("the relay wrote %d bytes for 300 events, %d for 3", manyBytes, fewBytes)
	}
	if many > few {
		t.Fatalf("a stream of 300 events allocates %.1f times, one of 3 events %.1f: the relay allocates per event", many, few)
	}
	t.Logf("allocations per streamed miss: %.1f (3 events), %.1f (300 events)", few, many)
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// A parked stream allocates nothing per event either (issue 16): the same
// streamed misses through a real listener, where every stream is hijacked
// and relayed by the event loop, read over one keep-alive connection by a
// client that allocates nothing per read. AllocsPerRun counts the whole
// process — loop, handler and client — so a per-event allocation anywhere on
// the parked path shows as the 300-event stream's excess over the 3-event one.
func TestParkedRelayEventAllocs(t *testing.T) {
	perRequest := func(events int) float64 {
		u := config.Upstream{Name: "sse", Provider: "openai", BaseURL: sseUpstream(t, events), Auth: config.Auth{APIKey: "k"},
			Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini"}}
		base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}, Cache: config.Cache{Policy: "off"}})
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		body := `{"model":"gpt-4o-mini","temperature":0.7,"stream":true,"messages":[{"role":"user","content":"relay me"}]}`
		req := []byte(fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		end := []byte("data: [DONE]\n\n\r\n0\r\n\r\n")
		buf := make([]byte, 64<<10)
		tail := make([]byte, 0, 2*len(end))
		run := func() {
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			// Read up to the chunked body's end: "[DONE]" then the last chunk.
			tail = tail[:0]
			for !bytes.HasSuffix(tail, end) {
				n, err := c.Read(buf)
				if err != nil {
					t.Fatal(err)
				}
				got := buf[:n]
				if len(got) >= len(end) {
					tail = append(tail[:0], got[len(got)-len(end):]...)
				} else {
					keep := max(0, len(tail)+len(got)-len(end))
					tail = append(tail[:copy(tail, tail[keep:])], got...)
				}
			}
		}
		run()
		run()
		return testing.AllocsPerRun(50, run)
	}
	few, many := perRequest(3), perRequest(300)
	if many > few {
		t.Fatalf("a parked stream of 300 events allocates %.1f times, one of 3 events %.1f: the parked relay allocates per event", many, few)
	}
	t.Logf("allocations per parked streamed miss: %.1f (3 events), %.1f (300 events)", few, many)
}
