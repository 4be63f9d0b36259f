package wasm

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

// Benchmarks of one hook call through a pooled instance, host and guest.
//
//	go test ./plugins/wasm -run XXX -bench . -benchtime 2s

// benchPlugin loads a plugin that is never recycled, so that the figures are
// the cost of a call; BenchmarkInstantiate gives the cost of a recycle, which
// max_calls amortises.
func benchPlugin(b *testing.B, c Config) *Plugin {
	c.PoolSize = 4
	c.MaxCalls = 1 << 30
	return loadPath(b, c)
}

// BenchmarkInstantiate is the cost of starting one instance (instantiate,
// _initialize, init, input buffer): what a recycle or a discard costs.
func BenchmarkInstantiate(b *testing.B) {
	for _, bc := range []struct {
		name string
		path func(testing.TB) string
	}{
		{"go-cheapest-healthy", func(t testing.TB) string { return goExample(t, "cheapest-healthy") }},
		{"c-lowest-latency", func(testing.TB) string { return "../../examples/plugins/c/lowest-latency/plugin.wasm" }},
		{"wat-healthy-only", func(testing.TB) string { return "../../examples/plugins/wat/healthy-only/plugin.wasm" }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := benchPlugin(b, Config{Name: bc.name, Wasm: bc.path(b)})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				in, err := p.newInstance(ctx)
				if err != nil {
					b.Fatal(err)
				}
				in.mod.Close(ctx)
			}
		})
	}
}

func BenchmarkRoute(b *testing.B) {
	ups := testUpstreams()
	for _, bc := range []struct {
		name string
		path func(testing.TB) string
	}{
		{"go-cheapest-healthy", func(t testing.TB) string { return goExample(t, "cheapest-healthy") }},
		{"c-lowest-latency", func(testing.TB) string { return "../../examples/plugins/c/lowest-latency/plugin.wasm" }},
		{"wat-healthy-only", func(testing.TB) string { return "../../examples/plugins/wat/healthy-only/plugin.wasm" }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := benchPlugin(b, Config{Name: bc.name, Kind: plugins.KindRoute, Wasm: bc.path(b)})
			req, dst := testRequest(100), make([]int, 0, 8)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = p.Route(ctx, req, ups, dst[:0]); err != nil || len(dst) == 0 {
					b.Fatal(dst, err)
				}
			}
		})
	}
}

func BenchmarkRouteParallel(b *testing.B) {
	p := benchPlugin(b, Config{Name: "go", Kind: plugins.KindRoute, Wasm: goExample(b, "cheapest-healthy")})
	ups := testUpstreams()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, dst := testRequest(100), make([]int, 0, 8)
		for pb.Next() {
			var err error
			if dst, err = p.Route(context.Background(), req, ups, dst[:0]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchBody is a typical chat request of about 1 KiB.
func benchBody(withEmail bool) []byte {
	who := "the customer"
	if withEmail {
		who = "jane.doe@example.com"
	}
	return []byte(`{"model":"gpt-5.5","temperature":0,"messages":[{"role":"system","content":"You are a helpful assistant for an online shop. Answer briefly and politely; never invent order numbers."},` +
		`{"role":"user","content":"Hello, I ordered a pair of running shoes two weeks ago and they still have not arrived. The tracking page says the parcel is in transit since last Monday. Can you write a short message to the courier on behalf of ` + who + ` asking where the parcel is and when it will be delivered? Please mention order 10442 and that the delivery address is correct. Thank you very much for your help, I really need the shoes before the race next weekend."}]}`)
}

func BenchmarkRedact(b *testing.B) {
	for _, bc := range []struct {
		name  string
		path  func(testing.TB) string
		body  []byte
		match bool
	}{
		{"go-redact-email/no-match", func(t testing.TB) string { return goExample(t, "redact-email") }, benchBody(false), false},
		{"go-redact-email/one-email", func(t testing.TB) string { return goExample(t, "redact-email") }, benchBody(true), true},
		{"wat-echo/no-match", func(testing.TB) string { return fixture("echo") }, benchBody(false), false},
		{"wat-echo/match", func(testing.TB) string { return fixture("echo") }, append([]byte("!"), benchBody(false)...), true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := benchPlugin(b, Config{Name: bc.name, Kind: plugins.KindRedact, Wasm: bc.path(b)})
			v, out := new(plugins.Vault), make([]byte, 0, 4096)
			ctx := context.Background()
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				v.Reset()
				var err error
				if out, err = p.Redact(ctx, bc.body, out[:0], v); err != nil || (len(out) > 0) != bc.match {
					b.Fatal(len(out), err)
				}
			}
		})
	}
}

// BenchmarkInfiniteLoop reports how much CPU the default fuel budget lets an
// infinite loop burn before the call fails with ErrFuelExhausted: the cost of
// a runaway plugin to one request. cpu-ms is the mean and worst-cpu-ms the
// maximum thread CPU time of one call (wall time on a loaded machine is
// higher and says more about the machine than about fuel).
func BenchmarkInfiniteLoop(b *testing.B) {
	p := benchPlugin(b, Config{Name: "loop", Wasm: fixture("loop")})
	ctx, req, ups := context.Background(), testRequest(0), testUpstreams()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var total, worst time.Duration
	n := 0
	for b.Loop() {
		t0 := threadCPU()
		_, err := p.Route(ctx, req, ups, nil)
		d := threadCPU() - t0
		if !errors.Is(err, ErrFuelExhausted) {
			b.Fatal(err)
		}
		total += d
		worst = max(worst, d)
		n++
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(n), "cpu-ms")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-cpu-ms")
}

// BenchmarkFuelOverhead compares calls on loop-heavy guests with and without
// the fuel rewrite (goal: at most 10% slower; compare with benchstat):
// redact-email scanning a
// 64 KiB body byte by byte, and lowest-latency sorting 256 upstreams.
func BenchmarkFuelOverhead(b *testing.B) {
	body := bytes.Repeat(benchBody(false), 64)
	ups := make([]plugins.Upstream, 256)
	for i := range ups {
		ups[i] = plugins.Upstream{Name: "u", Healthy: true, TTFBUS: uint32((i * 7919) % 1000)}
	}
	for _, fueled := range []bool{false, true} {
		name := "raw"
		if fueled {
			name = "fuel"
		}
		b.Run("go-redact-email-64KiB/"+name, func(b *testing.B) {
			// 64 KiB of scanning costs about 10M fuel, the default budget.
			p := loadWithFuel(b, fueled, Config{Name: "pii", Kind: plugins.KindRedact, Wasm: goExample(b, "redact-email"), BaseFuel: 1 << 40, MaxFuel: 1 << 40})
			v := new(plugins.Vault)
			b.SetBytes(int64(len(body)))
			cpuPerOp(b, func() {
				if _, err := p.Redact(context.Background(), body, nil, v); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("c-lowest-latency-256/"+name, func(b *testing.B) {
			p := loadWithFuel(b, fueled, Config{Name: "c", Wasm: "../../examples/plugins/c/lowest-latency/plugin.wasm"})
			dst := make([]int, 0, 256)
			cpuPerOp(b, func() {
				var err error
				if dst, err = p.Route(context.Background(), testRequest(1), ups, dst[:0]); err != nil || len(dst) != 256 {
					b.Fatal(len(dst), err)
				}
			})
		})
	}
}

func loadWithFuel(b *testing.B, fueled bool, c Config) *Plugin {
	if !fueled {
		saved := instrument
		instrument = func(m []byte) ([]byte, error) { return m, nil }
		defer func() { instrument = saved }()
	}
	p := benchPlugin(b, c)
	if p.Fueled() != fueled {
		b.Fatalf("fueled = %v", p.Fueled())
	}
	return p
}

// cpuPerOp runs f in a b.Loop and also reports the calling thread's CPU time
// per call (cpu-ns/op), which other load on the machine does not inflate.
func cpuPerOp(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var n int
	var cpu time.Duration
	for b.Loop() {
		t0 := threadCPU()
		f()
		cpu += threadCPU() - t0
		n++
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
}
