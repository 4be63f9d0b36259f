package telemetry

import (
	"context"
	"io"
	"net"
	"net/http"
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
	run := func(b *testing.B, tel *Telemetry, trace bool, traceparent string) {
		h := tel.Handles(azure)
		p := tel.Plugin("pii", "redact")
		var in, out fasthttp.RequestHeader
		if traceparent != "" {
			in.Set("traceparent", traceparent)
		}
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
	const sampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	b.Run("metrics", func(b *testing.B) { run(b, newTel(b, Config{NoProcessMetrics: true}), false, sampled) })
	b.Run("metrics+tracing-off", func(b *testing.B) { run(b, newTel(b, Config{NoProcessMetrics: true}), true, sampled) })
	b.Run("metrics+tracing-on", func(b *testing.B) {
		run(b, newTel(b, Config{NoProcessMetrics: true, Tracing: TracingConfig{Endpoint: newSink(b)}}), true, sampled)
	})
	// Tracing on, but this request's trace is not sampled (sample_ratio
	// near 0, no client traceparent): the price of having tracing enabled.
	b.Run("metrics+tracing-on-unsampled", func(b *testing.B) {
		run(b, newTel(b, Config{NoProcessMetrics: true, Tracing: TracingConfig{Endpoint: newSink(b), SampleRatio: 1e-12}}), true, "")
	})
}

// newSink is a loopback OTLP/HTTP endpoint that reads and drops every
// export, so a benchmark counts the router's side of tracing, not a
// collector's decoding.
func newSink(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
