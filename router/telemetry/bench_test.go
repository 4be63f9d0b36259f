package telemetry

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The baseline: the same number of plain atomic adds a hand-rolled exporter
// would do for one request (request counter, duration and TTFT sums and
// counts, input and output tokens, cost).
func BenchmarkRecordAtomicBaseline(b *testing.B) {
	var c [8]atomic.Uint64
	b.ReportAllocs()
	for b.Loop() {
		c[0].Add(1)
		c[1].Add(1)
		c[2].Add(300)
		c[3].Add(1)
		c[4].Add(40)
		c[5].Add(100)
		c[6].Add(20)
		c[7].Add(1)
	}
}

// client_golang: one request's Record (counter, two histograms, two token
// histograms, four token counters, cost).
func BenchmarkRecordClientGolang(b *testing.B) {
	tel := newTel(b, Config{NoProcessMetrics: true})
	h := tel.Handles(azure)
	o := Outcome{Status: 200, Cache: CacheMiss, Duration: 300 * time.Millisecond, TTFT: 40 * time.Millisecond,
		Usage: Usage{Input: 100, Output: 20, Cached: 10, Reasoning: 5, CostUSD: 0.001}}
	b.ReportAllocs()
	for b.Loop() {
		h.Record(&o)
	}
}

func BenchmarkRecordClientGolangParallel(b *testing.B) {
	tel := newTel(b, Config{NoProcessMetrics: true})
	h := tel.Handles(azure)
	o := Outcome{Status: 200, Cache: CacheMiss, Duration: 300 * time.Millisecond, TTFT: 40 * time.Millisecond,
		Usage: Usage{Input: 100, Output: 20, CostUSD: 0.001}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Record(&o)
		}
	})
}

// BenchmarkRequest is everything telemetry does for one request with one
// attempt and one plugin call: metrics alone, metrics with tracing off (the
// default), and metrics with tracing on (sampled, exported in batches to a
// loopback OTLP receiver).
func BenchmarkRequest(b *testing.B) {
	run := func(b *testing.B, tel *Telemetry, trace bool) {
		h := tel.Handles(azure)
		p := tel.Plugin("pii", "redact")
		var in, out fasthttp.RequestHeader
		in.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		o := Outcome{Status: 200, Cache: CacheMiss, Duration: 300 * time.Millisecond, TTFT: 40 * time.Millisecond,
			Usage: Usage{Input: 100, Output: 20, CostUSD: 0.001}}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if trace {
				rctx, rs := tel.StartRequest(ctx, &in, "chat", "acme", "gpt-5.5")
				ps := tel.StartPlugin(rctx, "pii", "redact")
				p.Call(20*time.Microsecond, false)
				ps.End(0, "")
				actx, as := tel.StartAttempt(rctx, "chat", "azure-eu", "azure", "gpt55-prod", 1)
				tel.Inject(actx, &out)
				h.Attempt(ResultOK, 200*time.Millisecond)
				as.SetResponse("gpt-5.5", nil)
				as.EndAttempt(200, ResultOK)
				h.Record(&o)
				rs.SetUsage(o.Usage)
				rs.SetTTFT(o.TTFT)
				rs.End(200, "")
			} else {
				p.Call(20*time.Microsecond, false)
				h.Attempt(ResultOK, 200*time.Millisecond)
				h.Record(&o)
			}
		}
	}
	b.Run("metrics", func(b *testing.B) { run(b, newTel(b, Config{NoProcessMetrics: true}), false) })
	b.Run("metrics+tracing-off", func(b *testing.B) { run(b, newTel(b, Config{NoProcessMetrics: true}), true) })
	b.Run("metrics+tracing-on", func(b *testing.B) {
		rcv := newReceiver(b)
		run(b, newTel(b, Config{NoProcessMetrics: true, Tracing: TracingConfig{Endpoint: rcv.url}}), true)
	})
}
