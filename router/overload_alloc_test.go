//go:build !race

package router_test

import (
	"bufio"
	"context"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
)

// stuckStreamUpstream answers every request with a stream that sends one
// chunk and then waits until the test ends: a live stream that costs no
// allocation while it waits (AllocsPerRun counts the whole process).
func stuckStreamUpstream(t *testing.T) (url string, done chan struct{}) {
	chunk := []byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}` + "\n\n")
	done = make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/event-stream")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			w.Write(chunk)
			w.Flush()
			<-done
		})
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String(), done
}

// An overload answer (a PoP bound reached) allocates nothing: an overload
// storm must not add garbage to a PoP already at its bound.
func TestOverloadAnswerAllocs(t *testing.T) {
	url, done := stuckStreamUpstream(t)
	u := config.Upstream{Name: "up", Provider: "openai", BaseURL: url, Auth: config.Auth{APIKey: "k"},
		Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini"}}
	cfg := func(l config.Limits) *config.Config {
		c := &config.Config{Limits: l, Upstreams: []config.Upstream{u}}
		c.Listen = "127.0.0.1:0"
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	base, srv := startRouter(t, cfg(config.Limits{MaxStreams: 1}))
	t.Cleanup(func() { close(done) }) // before the router closes: the held stream ends
	holdStreams(t, base, 1)

	stream := requestCtx(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "")
	measure(t, "refused stream (limits.max_streams)", stream, srv, 503, "")

	if err := srv.Reload(context.Background(), cfg(config.Limits{MaxInFlight: 1})); err != nil {
		t.Fatal(err)
	}
	measure(t, "refused request (limits.max_in_flight)", requestCtx(chatBody, ""), srv, 503, "")
}
