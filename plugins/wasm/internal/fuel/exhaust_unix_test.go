//go:build unix

package fuel

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// BenchmarkExhaust measures how long an infinite loop (2 fuel per
// iteration) takes to use up a budget of 10,000,000, so the host can pick a
// default budget. Besides wall time it reports process CPU time per call
// (cpu-ms/op), which a loaded machine does not inflate.
//
//	go test -run XXX -bench Exhaust ./plugins/wasm/internal/fuel/
func BenchmarkExhaust(b *testing.B) {
	r := newRuntime(b)
	in := instantiate(b, r, instrument(b, readFile(b, "testdata/guest.wasm")), plenty)
	fn := in.mod.ExportedFunction("spin")
	ctx := context.Background()
	cpu0 := cpuTime(b)
	for b.Loop() {
		in.setFuel(10_000_000)
		if err := fn.CallWithStack(ctx, nil); err == nil {
			b.Fatal("spin returned")
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
