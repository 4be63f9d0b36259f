package native_test

import (
	"context"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native"
)

// BenchmarkRoute is the per-call cost of a native Route: one gRPC round trip
// to the example price router with a three-upstream table, for comparison
// with plugins/wasm's route benchmarks.
func BenchmarkRoute(b *testing.B) {
	p := load(b, native.Config{Name: "price", Binary: priceRouter, PluginConfig: priceConfig(pricesFile(b)),
		Logger: (&logSink{}).logger()})
	ctx, ups := context.Background(), table()
	dst := make([]int, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		out, err := p.Route(ctx, &request, ups, dst[:0])
		if err != nil || len(out) != 3 {
			b.Fatalf("Route = %v, %v", out, err)
		}
	}
}

// BenchmarkRouteParallel is BenchmarkRoute from GOMAXPROCS goroutines over
// the one connection.
func BenchmarkRouteParallel(b *testing.B) {
	p := load(b, native.Config{Name: "price", Binary: priceRouter, PluginConfig: priceConfig(pricesFile(b)),
		Logger: (&logSink{}).logger()})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx, ups := context.Background(), table()
		dst := make([]int, 0, 8)
		for pb.Next() {
			out, err := p.Route(ctx, &request, ups, dst[:0])
			if err != nil || len(out) != 3 {
				b.Errorf("Route = %v, %v", out, err)
				return
			}
		}
	})
}

// BenchmarkRedact is one native Redact of a 1 KiB body with one match.
func BenchmarkRedact(b *testing.B) {
	p := load(b, native.Config{Binary: testPlugin, PluginConfig: modeConfig("first"), Logger: (&logSink{}).logger()})
	body := []byte(`{"messages":[{"role":"user","content":"write to bob@example.com ` + strings.Repeat("lorem ipsum ", 80) + `"}]}`)
	ctx := context.Background()
	dst := make([]byte, 0, 2*len(body))
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		v.Reset()
		out, err := p.Redact(ctx, body, dst[:0], v)
		if err != nil || len(out) == 0 || v.Len() != 1 {
			b.Fatalf("Redact = %d bytes, %v, %d pairs", len(out), err, v.Len())
		}
	}
}
