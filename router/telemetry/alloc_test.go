//go:build !race

package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// One request's recording — counter, duration and TTFT histograms, tokens
// and cost — allocates nothing once its (status, cache) pair was seen.
func TestRecordAllocatesNothing(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	h := tel.Handles(azure)
	p := tel.Plugin("pii", "redact")
	o := Outcome{Status: 200, Cache: CacheMiss, Duration: 300 * time.Millisecond, TTFT: 40 * time.Millisecond,
		Usage: Usage{Input: 100, Output: 20, Cached: 10, Reasoning: 5, CostUSD: 0.001}}
	cases := map[string]func(){
		"record":   func() { h.Record(&o) },
		"attempt":  func() { h.Attempt(ResultServerError, time.Second) },
		"fallback": func() { h.Fallback(ResultServerError) },
		"plugin":   func() { p.Call(20*time.Microsecond, false) },
		"usage":    func() { h.AddUsage(o.Usage) },
	}
	for name, f := range cases {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per call", name, n)
		}
	}
}

// With tracing off, the whole span sequence of a request — request span,
// attempt span with header injection, plugin span, attributes, ends —
// allocates nothing and reads no header.
func TestTracingOffAllocatesNothing(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	var in, out fasthttp.RequestHeader
	in.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	ctx := context.Background()
	n := testing.AllocsPerRun(1000, func() {
		rctx, rs := tel.StartRequest(ctx, &in, "chat", "acme", "gpt-5.5")
		actx, as := tel.StartAttempt(rctx, "chat", "azure-eu", "azure", "gpt55-prod", 1)
		tel.Inject(actx, &out)
		ps := tel.StartPlugin(rctx, "pii", "redact")
		ps.End(0, "")
		as.SetResponse("gpt-5.5-2026", nil)
		as.EndAttempt(200, ResultOK)
		rs.SetUsage(Usage{Input: 1})
		rs.SetTTFT(time.Millisecond)
		rs.SetCache(CacheMiss)
		rs.SetUpstream("azure-eu", "azure")
		rs.End(200, "")
	})
	if n != 0 {
		t.Fatalf("%v allocs per request with tracing off", n)
	}
	if len(out.Peek("traceparent")) != 0 {
		t.Fatal("tracing off injected a traceparent")
	}
}
