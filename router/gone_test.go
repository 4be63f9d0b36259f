package router_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/internal/wire"
	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

// rawRequest opens a TCP connection to the router and sends one chat request
// on it; the caller reads what it wants and closes the connection, which is
// how a client goes away.
func rawRequest(t *testing.T, base, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return c, bufio.NewReader(c)
}

// eventually waits (bounded) until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func disconnects(t *testing.T, base string) float64 {
	return metricValue(t, scrape(t, base), "switchyard_client_disconnects_total")
}

// A client that goes away while its request waits for the cloud's first byte
// cuts the upstream call at once — not at the request deadline — and is
// counted; the upstream's breaker and error rate do not move (issue 11).
func TestClientGoneBeforeFirstByteCutsTheUpstreamCall(t *testing.T) {
	m := openaiMock(t)
	base, in := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	m.Inject(mockcloud.Fault{FirstByteDelay: time.Minute})
	c, _ := rawRequest(t, base, `{"model":"gpt-4o-mini","temperature":0.7,"messages":[{"role":"user","content":"slow"}]}`)
	eventually(t, "the call reached the mock", func() bool { return m.InFlight() == 1 })
	stats := in.Registry().Stats("up")
	before := stats.Snapshot()
	c.Close()
	eventually(t, "the upstream call was cut", func() bool { return m.InFlight() == 0 && stats.Snapshot().InFlight == 0 })
	if n := disconnects(t, base); n != 1 {
		t.Fatalf("client disconnects %v, want 1", n)
	}
	after := stats.Snapshot()
	if after.Errors != before.Errors || after.Failures != 0 || after.BreakerOpen || after.ErrorRate != before.ErrorRate {
		t.Fatalf("a client leaving counted against the cloud: before %+v after %+v", before, after)
	}
	// The pool is whole again: the next request is served.
	if status, _, body := post(t, base, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"next"}]}`); status != 200 {
		t.Fatalf("next request: %d %s", status, body)
	}
}

// A client that goes away during a quiet stretch of a stream (a reasoning
// model thinking) cuts the upstream stream at once, without waiting for the
// next event to fail a write.
func TestClientGoneMidStreamCutsTheUpstreamStream(t *testing.T) {
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: time.Minute})
	base, in := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	c, r := rawRequest(t, base, `{"model":"gpt-4o-mini","stream":true,"temperature":0.7,"messages":[{"role":"user","content":"think long"}]}`)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", err, resp)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first event: %q %v", line, err)
	}
	stats := in.Registry().Stats("up")
	if stats.Snapshot().InFlight != 1 {
		t.Fatalf("in flight %d, want the stream", stats.Snapshot().InFlight)
	}
	c.Close()
	eventually(t, "the stream's upstream call ended", func() bool { return stats.Snapshot().InFlight == 0 })
	if n := disconnects(t, base); n != 1 {
		t.Fatalf("client disconnects %v, want 1", n)
	}
}

// A cacheable stream whose client leaves is read to its end for the cache
// fill (issue 11, item 3), so the client's retry is a hit; the cloud was
// called once.
func TestCacheableStreamWhoseClientLeftIsStored(t *testing.T) {
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 20 * time.Millisecond})
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	if s := readStream(base, liveWords, nil, 2); len(s.times) != 2 || s.cache != "miss" {
		t.Fatalf("first: %d chunks, %q", len(s.times), s.cache)
	}
	eventually(t, "the answer was stored", func() bool {
		_, h, _ := post(t, base, `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"`+liveWords+`"}]}`,
			"Cache-Control", "only-if-cached")
		return h.Get("x-switchyard-cache") == "hit"
	})
	if got := m.Calls(); got != 1 {
		t.Fatalf("upstream calls %d, want 1", got)
	}
}

// ctxRouter is a routing plugin that holds each call until its context ends
// and reports what it saw: plugins get the request's own context.
type ctxRouter struct {
	entered chan struct{}
	ended   chan ctxSeen
}

type ctxSeen struct {
	err         error
	deadline    time.Time
	hasDeadline bool
}

func (r *ctxRouter) Route(ctx context.Context, _ *plugins.Request, _ []plugins.Upstream, dst []int) ([]int, error) {
	r.entered <- struct{}{}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second): // bounded: Err stays nil and the test fails
	}
	d, ok := ctx.Deadline()
	r.ended <- ctxSeen{err: ctx.Err(), deadline: d, hasDeadline: ok}
	return dst, ctx.Err()
}

// ctxHost is a plugin runtime with the one routing plugin above.
type ctxHost struct{ r *ctxRouter }

func (h ctxHost) Chains(context.Context, *config.Config) (router.Chains, error) {
	return ctxChains(h), nil
}
func (ctxHost) Healthy() error                  { return nil }
func (ctxHost) AppendMetrics(dst []byte) []byte { return dst }
func (ctxHost) Close() error                    { return nil }

type ctxChains ctxHost

func (c ctxChains) Router([]string) plugins.Router   { return c.r }
func (ctxChains) Redactor([]string) plugins.Redactor { return nil }
func (ctxChains) Close() error                       { return nil }

// Plugins receive a context that ends when the client goes away (Canceled)
// or at the request's deadline (DeadlineExceeded), and carries that deadline
// (issue 11: they got fasthttp's request context, which never ended).
func TestPluginContextEndsWithTheRequest(t *testing.T) {
	m := openaiMock(t)
	r := &ctxRouter{entered: make(chan struct{}, 1), ended: make(chan ctxSeen, 1)}
	cfg := &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Plugins: []config.Plugin{{Name: "hold", Kind: "route", Wasm: "../examples/plugins/wat/healthy-only/plugin.wasm", OnError: "open"}},
		Limits:  config.Limits{RequestTimeout: 400 * time.Millisecond}}
	w := wire.Router(wire.Options{PluginPoll: -1})
	w.Plugins = ctxHost{r}
	base, _ := startRouterWith(t, cfg, w)
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"route me"}]}`

	t.Run("client leaves", func(t *testing.T) {
		c, _ := rawRequest(t, base, body)
		<-r.entered
		sent := time.Now()
		c.Close()
		seen := <-r.ended
		if seen.err != context.Canceled {
			t.Fatalf("the plugin's context ended with %v, want Canceled", seen.err)
		}
		if !seen.hasDeadline || seen.deadline.Before(sent.Add(-time.Second)) {
			t.Fatalf("deadline %v %v", seen.deadline, seen.hasDeadline)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			post(t, base, body)
		}()
		<-r.entered
		seen := <-r.ended
		wg.Wait()
		if seen.err != context.DeadlineExceeded {
			t.Fatalf("the plugin's context ended with %v, want DeadlineExceeded", seen.err)
		}
	})
}
