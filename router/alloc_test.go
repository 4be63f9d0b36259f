//go:build !race

package router_test

import (
	"context"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/wire"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

// bareUpstream is a fasthttp server answering every request with one fixed
// chat.completion: fasthttp allocates nothing per request, so it does not
// blur the router's own count (AllocsPerRun counts the whole process).
func bareUpstream(t testing.TB) string {
	return fixedUpstream(t, "application/json", []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`))
}

func handlerFor(t testing.TB, cfg *config.Config) *router.Instance {
	cfg.Listen = "127.0.0.1:0"
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := router.New(cfg, wire.Router(wire.Options{PluginPoll: -1}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return srv
}

func requestCtx(body string, key string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/v1/chat/completions")
	req.Header.SetContentType("application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.SetBodyString(body)
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
	return ctx
}

func measure(t *testing.T, name string, ctx *fasthttp.RequestCtx, srv *router.Instance, wantStatus int, wantCache string) {
	t.Helper()
	run := func() {
		ctx.Response.Reset()
		srv.Handle(ctx)
	}
	run() // warm pools and buffers
	run()
	if ctx.Response.StatusCode() != wantStatus || string(ctx.Response.Header.Peek("x-switchyard-cache")) != wantCache {
		t.Fatalf("%s: %d %q %s", name, ctx.Response.StatusCode(), ctx.Response.Header.Peek("x-switchyard-cache"), ctx.Response.Body())
	}
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("%s allocates %.1f times per request", name, n)
	}
}

// Serving a JSON cache hit through the whole handler (tenant lookup by key,
// scan, cache key, lookup, write) allocates nothing.
func TestCacheHitAllocs(t *testing.T) {
	srv := handlerFor(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", openaiMock(t))},
		Tenants:   []config.Tenant{{Name: "acme", Keys: []string{"k1", "k2"}}},
	})
	ctx := requestCtx(`{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hit me"}]}`, "k2")
	srv.Handle(ctx) // the miss that fills the cache
	measure(t, "JSON hit", ctx, srv, 200, "hit")
	stream := requestCtx(`{"model":"gpt-4o-mini","temperature":0,"stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hit me"}]}`, "k2")
	measure(t, "SSE hit", stream, srv, 200, "hit")
}

// Relaying a non-streamed answer on a miss (scan, body rewrite, upstream
// request built and signed by the OpenAI adapter, keep-alive call, relay)
// allocates nothing in steady state.
func TestMissRelayAllocs(t *testing.T) {
	up := bareUpstream(t)
	for _, kind := range []string{"openai", "azure"} {
		u := config.Upstream{Name: "bare", Provider: kind, BaseURL: up, Auth: config.Auth{APIKey: "k"},
			Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini"}}
		srv := handlerFor(t, &config.Config{Upstreams: []config.Upstream{u}, Cache: config.Cache{Policy: "off"}})
		ctx := requestCtx(`{"model":"gpt-4o-mini","temperature":0.7,"messages":[{"role":"user","content":"relay me"}]}`, "")
		measure(t, kind+" miss relay", ctx, srv, 200, "")
	}
}

// BenchmarkHandleHit is the handler's own cost for a JSON cache hit: no
// network, no client.
func BenchmarkHandleHit(b *testing.B) {
	srv := handlerFor(b, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", openaiMock(b))}})
	ctx := requestCtx(`{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hit me"}]}`, "")
	srv.Handle(ctx)
	b.ReportAllocs()
	for range b.N {
		ctx.Response.Reset()
		srv.Handle(ctx)
	}
}

// Limits and metrics stay off the allocator: a tenant with rate limits and
// budgets (reserve, x-ratelimit headers, settle) on the hit and miss paths.
func TestLimitedAllocs(t *testing.T) {
	up := bareUpstream(t)
	u := config.Upstream{Name: "bare", Provider: "openai", BaseURL: up, Auth: config.Auth{APIKey: "k"},
		Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini"}, Price: config.Price{Input: 0.15, Output: 0.6}}
	lim := config.TenantLimits{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 40, DailyBudget: 1e8, MonthlyBudget: 1e8}
	srv := handlerFor(t, &config.Config{Upstreams: []config.Upstream{u},
		Tenants: []config.Tenant{{Name: "acme", Keys: []string{"k1"}, Limits: lim}}})
	hit := requestCtx(`{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"hit me"}]}`, "k1")
	srv.Handle(hit)
	measure(t, "limited JSON hit", hit, srv, 200, "hit")
	if len(hit.Response.Header.Peek("x-ratelimit-remaining-requests")) == 0 {
		t.Fatal("no rate-limit headers")
	}
	miss := requestCtx(`{"model":"gpt-4o-mini","temperature":0.7,"messages":[{"role":"user","content":"relay me"}]}`, "k1")
	measure(t, "limited miss relay", miss, srv, 200, "bypass")
}
