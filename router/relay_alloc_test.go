//go:build !race

package router_test

import (
	"bufio"
	"io"
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
