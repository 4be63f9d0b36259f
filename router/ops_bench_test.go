//go:build !race

package router_test

import (
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/telemetry"
)

// BenchmarkOpsCost is the cost of telemetry on the handler's hit and miss
// paths (no client network; the miss goes to a loopback fasthttp upstream),
// with tracing off (the default: metrics only) and on (every request
// sampled, spans batched to a loopback OTLP receiver), in one run.
// "metrics-record" is the record stage's metric calls alone (one
// Handles.Record and one Attempt), the part of both paths that metrics add.
//
//	go test -run '^$' -bench BenchmarkOpsCost -benchtime 20000x ./router/
func BenchmarkOpsCost(b *testing.B) {
	up := bareUpstream(b)
	rcv := newOTLPReceiver(b)
	u := config.Upstream{Name: "bare", Provider: "openai", BaseURL: up, Auth: config.Auth{APIKey: "k"},
		Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini"}}
	hitBody := `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"hit me"}]}`
	missBody := `{"model":"gpt-4o-mini","temperature":0.7,"messages":[{"role":"user","content":"relay me"}]}`
	for _, tracing := range []bool{false, true} {
		cfg := &config.Config{Upstreams: []config.Upstream{u}}
		name := "tracing-off"
		if tracing {
			name = "tracing-on"
			cfg.Telemetry.Tracing = config.Tracing{Endpoint: rcv.url, BatchTimeout: 100 * time.Millisecond}
		}
		srv := handlerFor(b, cfg)
		for _, path := range []struct{ name, body string }{{"hit", hitBody}, {"miss", missBody}} {
			b.Run(path.name+"/"+name, func(b *testing.B) {
				ctx := requestCtx(path.body, "")
				if path.name == "miss" {
					ctx.Request.Header.Set("x-switchyard-cache", "bypass")
				}
				srv.Handle(ctx)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					ctx.Response.Reset()
					srv.Handle(ctx)
				}
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			})
		}
	}
	b.Run("metrics-record", func(b *testing.B) {
		tel, err := telemetry.New(telemetry.Config{NoProcessMetrics: true})
		if err != nil {
			b.Fatal(err)
		}
		h := tel.Handles(telemetry.Labels{Endpoint: "chat", Tenant: "default", Model: "gpt-4o-mini", Upstream: "bare", Provider: "openai"})
		o := telemetry.Outcome{Status: 200, Cache: telemetry.CacheMiss, Duration: time.Millisecond,
			Usage: telemetry.Usage{Input: 9, Output: 2, CostUSD: 1e-6}}
		b.ReportAllocs()
		for range b.N {
			h.Attempt(telemetry.ResultOK, time.Millisecond)
			h.Record(&o)
		}
	})
}
