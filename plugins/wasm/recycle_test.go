package wasm

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

// goroutineID is the calling goroutine's id, from its stack header.
func goroutineID() uint64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	f := strings.Fields(string(b[:n]))
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}

// waitFor polls cond until it holds or the bound passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// Recycling after max_calls prewarms the successor in the background: no
// instantiation ever runs on a calling goroutine, the pool never has fewer
// serving instances than its size (the old one serves until its successor
// is in), and it is full again afterwards.
func TestRecyclingIsOffTheCallPath(t *testing.T) {
	p := load(t, "echo", func(c *Config) { c.PoolSize = 2; c.MaxCalls = 3 })
	var mu sync.Mutex
	callers := map[uint64]bool{}
	onCaller := 0
	started := 0
	p.testHookInstantiate = func() {
		mu.Lock()
		defer mu.Unlock()
		started++
		if callers[goroutineID()] {
			onCaller++
		}
	}
	ctx, ups := context.Background(), testUpstreams()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			callers[goroutineID()] = true
			mu.Unlock()
			for range 50 {
				if got, err := p.Route(ctx, testRequest(1), ups, nil); err != nil || len(got) != 1 {
					t.Errorf("Route = %v, %v", got, err)
					return
				}
				if n := p.instances.Load(); n < 2 {
					t.Errorf("%d serving instances during recycling, want ≥ 2", n)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 200 calls at max_calls 3 start replacements in the background; wait
	// until at least one is in and the pool is back to its size.
	waitFor(t, "the pool to settle", func() bool {
		st := p.Stats()
		return st.Instances == 2 && st.InUse == 0 && st.Recycled > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if onCaller != 0 {
		t.Fatalf("%d of %d instantiations ran on a calling goroutine", onCaller, started)
	}
	if started == 0 || p.Stats().Recycled == 0 {
		t.Fatalf("no instance was recycled (%d started)", started)
	}
}

// A failed call's instance is replaced in the background too.
func TestDiscardRefillsInBackground(t *testing.T) {
	p := load(t, "third", func(c *Config) { c.PoolSize = 1 })
	caller := goroutineID()
	onCaller := 0
	var mu sync.Mutex
	p.testHookInstantiate = func() {
		mu.Lock()
		defer mu.Unlock()
		if goroutineID() == caller {
			onCaller++
		}
	}
	ctx := context.Background()
	failed := 0
	for range 30 {
		if _, err := p.Route(ctx, testRequest(1), testUpstreams(), nil); err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("the fixture never trapped")
	}
	mu.Lock()
	defer mu.Unlock()
	if onCaller != 0 {
		t.Fatalf("%d instantiations on the calling goroutine", onCaller)
	}
}

// A caller whose deadline passes while every instance is busy gets
// context.DeadlineExceeded, and the plugin is not blamed.
func TestPoolWaitHonoursDeadline(t *testing.T) {
	p := load(t, "echo", func(c *Config) { c.PoolSize = 1 })
	busy, err := p.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := p.Redact(ctx, []byte("!x"), nil, new(plugins.Vault)); err != context.DeadlineExceeded {
		t.Fatalf("Redact = %v, want context.DeadlineExceeded", err)
	}
	p.put(busy, false)
	if p.Failures() != 0 {
		t.Fatalf("failures = %d", p.Failures())
	}
}

// BenchmarkRecycleP99 compares the per-call latency of the Go route example
// with an instance recycled every 100 calls against never, in the same run:
// p99-µs should stay close (recycling prewarms successors in the
// background), where a synchronous start-up would cost a Go runtime start.
func BenchmarkRecycleP99(b *testing.B) {
	for _, bc := range []struct {
		name     string
		maxCalls int
	}{{"never", 1 << 30}, {"every-100", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			p := loadPath(b, Config{Name: "go", Kind: plugins.KindRoute, Wasm: goExample(b, "cheapest-healthy"), PoolSize: 2, MaxCalls: bc.maxCalls})
			ctx, req, ups := context.Background(), testRequest(100), testUpstreams()
			dst := make([]int, 0, 8)
			var lat []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				var err error
				if dst, err = p.Route(ctx, req, ups, dst[:0]); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
			b.ReportMetric(float64(p.Stats().Recycled), "recycled")
		})
	}
}
