package wasm

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// byteCounter is a slog.Handler that counts records and message bytes.
type byteCounter struct {
	lineCounter
	bytes int
}

func (h *byteCounter) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.bytes += len(r.Message)
	h.mu.Unlock()
	return h.lineCounter.Handle(ctx, r)
}
func (h *byteCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *byteCounter) WithGroup(string) slog.Handler      { return h }

// 40 × 16 MiB of random_get in one call (2 s of host CPU on 600 fuel
// before): the host charges the bytes before filling them, so the call runs
// out of fuel at the first one.
func TestRandomGetIsCharged(t *testing.T) {
	p := load(t, "randbomb", nil)
	t0 := time.Now()
	_, err := p.Route(context.Background(), testRequest(0), testUpstreams(), nil)
	if !errors.Is(err, ErrFuelExhausted) {
		t.Fatalf("Route = %v, want ErrFuelExhausted", err)
	}
	t.Logf("cut after %v", time.Since(t0))
}

// 20,000 log calls of 1,000 bytes in one call (81 MB of log before): at most
// maxGuestLines lines and maxCallLogBytes bytes reach the log, and the
// charge per call and byte ends the call.
func TestLogFloodIsCapped(t *testing.T) {
	h := new(byteCounter)
	o := quiet
	o.Logger = slog.New(h)
	p, err := Load(context.Background(), Config{Name: "flood", Wasm: fixture("logflood"), PoolSize: 1}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 3 {
		_, err = p.Route(context.Background(), testRequest(0), testUpstreams(), nil)
		if !errors.Is(err, ErrFuelExhausted) {
			t.Fatalf("Route = %v, want ErrFuelExhausted", err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	guest := 0
	for _, m := range h.msgs {
		if len(m) == 1000 {
			guest++
		}
	}
	if guest == 0 || guest > maxGuestLines*3 || h.bytes > 3*(maxCallLogBytes+4096) {
		t.Fatalf("%d guest lines, %d bytes logged", guest, h.bytes)
	}
}

// An init that loops on random_get neither hangs Load nor survives the
// context: with a short init timeout it fails on the deadline, and a
// cancelled context ends it at once (SIGTERM during start-up).
func TestInitLoopingInHostCallsEnds(t *testing.T) {
	_, err := Load(context.Background(), Config{Name: "ir", Wasm: fixture("initrandom"), PoolSize: 1, InitTimeout: 50 * time.Millisecond}, quiet)
	if !errors.Is(err, ErrInit) || !(errors.Is(err, ErrTimeout) || errors.Is(err, ErrFuelExhausted)) {
		t.Fatalf("Load = %v, want ErrInit by time limit or fuel", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = Load(ctx, Config{Name: "ir", Wasm: fixture("initrandom"), PoolSize: 1, InitTimeout: time.Hour, BaseFuel: 1 << 50, MaxFuel: 1 << 60}, quiet)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context = %v, want context.Canceled", err)
	}
	// The default budget ends it on its own too.
	_, err = Load(context.Background(), Config{Name: "ir", Wasm: fixture("initrandom"), PoolSize: 1}, quiet)
	if !errors.Is(err, ErrInit) {
		t.Fatalf("Load = %v, want ErrInit", err)
	}
}

// An init looping in its own code is ended by the start-up fuel.
func TestInitLoopEnds(t *testing.T) {
	_, err := Load(context.Background(), Config{Name: "il", Wasm: fixture("initloop"), PoolSize: 1}, quiet)
	if !errors.Is(err, ErrInit) || !errors.Is(err, ErrFuelExhausted) {
		t.Fatalf("Load = %v, want ErrInit with fuel exhausted", err)
	}
}

// Bad pointers passed to every host import get an errno (or a dropped log
// line), never a host panic; the call then succeeds.
func TestBadPointersToHostImports(t *testing.T) {
	p := load(t, "hostptr", nil)
	for range 5 {
		got, err := p.Route(context.Background(), testRequest(0), testUpstreams(), nil)
		if err != nil || len(got) != 1 || got[0] != 0 {
			t.Fatalf("Route = %v, %v", got, err)
		}
	}
}

// A guest looping in host calls on a huge budget is ended by the call's
// wall-clock backstop.
func TestCallDeadlineInHostCalls(t *testing.T) {
	p := load(t, "logflood", func(c *Config) { c.BaseFuel, c.MaxFuel, c.CallTimeout = 1<<50, 1<<60, time.Nanosecond })
	_, err := p.Route(context.Background(), testRequest(0), testUpstreams(), nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Route = %v, want ErrTimeout", err)
	}
	if Reason(err) != "time limit passed" {
		t.Fatalf("Reason = %q", Reason(err))
	}
}
