//go:build unix

package fuel

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// BenchmarkExhaust measures how long an infinite loop takes to use up a
// budget of 10,000,000, so the host can pick a default budget: "spin" is the
// cheapest loop (2 fuel per iteration, no memory), "chase" loads from
// random addresses in 64 MiB (15 fuel per iteration, mostly cache misses).
// Besides wall time it reports process CPU time per call (cpu-ms/op), which
// a loaded machine does not inflate.
//
//	go test -run XXX -bench Exhaust ./plugins/wasm/internal/fuel/
func BenchmarkExhaust(b *testing.B) {
	for _, fn := range []string{"spin", "chase"} {
		b.Run(fn, func(b *testing.B) {
			r := newRuntime(b)
			in := instantiate(b, r, instrument(b, readFile(b, "testdata/guest.wasm")), plenty)
			f := in.mod.ExportedFunction(fn)
			ctx := context.Background()
			cpu0 := cpuTime(b)
			for b.Loop() {
				in.setFuel(10_000_000)
				if err := f.CallWithStack(ctx, nil); err == nil {
					b.Fatal(fn + " returned")
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
