package fuel

import (
	"context"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// BenchmarkFuelOverhead runs the same checksum loop over 64 KiB of guest
// memory in each guest, original and instrumented, on wazero's compiler
// engine. The overhead is instrumented ns/op ÷ original ns/op. On a shared,
// noisy machine compare the "ratio" sub-benchmarks instead: they alternate
// original and instrumented calls and report the ratio of the fastest call
// of each (min-ratio) and of their total times (sum-ratio).
//
//	go test -run XXX -bench FuelOverhead -count 5 ./plugins/wasm/internal/fuel/
func BenchmarkFuelOverhead(b *testing.B) {
	guests := []struct {
		name string
		bin  func(testing.TB) []byte
		prep []call // run once before timing
	}{
		{"wat", func(t testing.TB) []byte { return readFile(t, "testdata/guest.wasm") }, nil},
		{"c", func(t testing.TB) []byte { return readFile(t, "../wasmbin/testdata/c.wasm") }, nil},
		{"rust", func(t testing.TB) []byte { return readFile(t, "../wasmbin/testdata/rust.wasm") }, nil},
		{"go", buildGoGuest, []call{{"fill", []uint64{7}}}},
	}
	for _, g := range guests {
		bin := g.bin(b)
		fueled := instrument(b, bin)
		for _, v := range []struct {
			name string
			bin  []byte
		}{{"original", bin}, {"instrumented", fueled}} {
			b.Run(g.name+"/"+v.name, func(b *testing.B) {
				r := newRuntime(b)
				in := instantiate(b, r, v.bin, plenty)
				for _, c := range g.prep {
					if _, err := in.call(b, c.fn, c.params...); err != nil {
						b.Fatal(err)
					}
				}
				fn := in.mod.ExportedFunction("checksum")
				stack := make([]uint64, 1)
				ctx := context.Background()
				b.ReportAllocs()
				b.SetBytes(65536)
				for b.Loop() {
					in.setFuel(plenty)
					stack[0] = 65536
					if err := fn.CallWithStack(ctx, stack); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(g.name+"/ratio", func(b *testing.B) {
			r := newRuntime(b)
			var ins [2]instance
			var fns [2]api.Function
			for i, bin := range [][]byte{bin, fueled} {
				ins[i] = instantiate(b, r, bin, plenty)
				for _, c := range g.prep {
					if _, err := ins[i].call(b, c.fn, c.params...); err != nil {
						b.Fatal(err)
					}
				}
				fns[i] = ins[i].mod.ExportedFunction("checksum")
			}
			stack := make([]uint64, 1)
			ctx := context.Background()
			best := [2]time.Duration{1 << 62, 1 << 62}
			var total [2]time.Duration
			for b.Loop() {
				for i := range fns {
					ins[i].setFuel(plenty)
					stack[0] = 65536
					start := time.Now()
					if err := fns[i].CallWithStack(ctx, stack); err != nil {
						b.Fatal(err)
					}
					d := time.Since(start)
					total[i] += d
					best[i] = min(best[i], d)
				}
			}
			b.ReportMetric(float64(best[1])/float64(best[0]), "min-ratio")
			b.ReportMetric(float64(total[1])/float64(total[0]), "sum-ratio")
		})
	}
}

// BenchmarkInstrument measures the load-time cost of rewriting a module.
//
//	go test -run XXX -bench Instrument ./plugins/wasm/internal/fuel/
func BenchmarkInstrument(b *testing.B) {
	for _, g := range []struct {
		name string
		bin  func(testing.TB) []byte
	}{
		{"c", func(t testing.TB) []byte { return readFile(t, "../wasmbin/testdata/c.wasm") }},
		{"go", buildGoGuest},
	} {
		bin := g.bin(b)
		b.Run(g.name, func(b *testing.B) {
			b.SetBytes(int64(len(bin)))
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				var err error
				if out, err = Instrument(bin); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(out))/float64(len(bin)), "size-ratio")
		})
	}
}
