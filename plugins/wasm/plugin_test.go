package wasm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

// quiet is the tests' Options: no log output, and a compilation cache that
// outlives the test binary, because the fuel-instrumented Go examples take
// seconds to compile (see TestMain).
var quiet = Options{
	Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	CacheDir: filepath.Join(os.TempDir(), "switchyard-wazero-test-cache"),
}

func fixture(name string) string { return filepath.Join("testdata", name+".wasm") }

func load(t testing.TB, name string, mod func(*Config)) *Plugin {
	t.Helper()
	c := Config{Name: name, Wasm: fixture(name), PoolSize: 2}
	if mod != nil {
		mod(&c)
	}
	p, err := Load(context.Background(), c, quiet)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func testUpstreams() []plugins.Upstream {
	return []plugins.Upstream{
		{Name: "azure-eu", Provider: "azure", Region: "westeurope", Healthy: true, LatencyUS: 900_000, TTFBUS: 300_000, PriceIn: 1.25, PriceOut: 10, Weight: 1},
		{Name: "bedrock-us", Provider: "bedrock", Region: "us-east-1", Healthy: false, LatencyUS: 700_000, TTFBUS: 200_000, PriceIn: 0.15, PriceOut: 0.6, Weight: 1},
		{Name: "openai", Provider: "openai", Region: "us", Healthy: true, LatencyUS: 800_000, TTFBUS: 250_000, PriceIn: 1.25, PriceOut: 10, Weight: 2},
	}
}

func testRequest(tokens int32) *plugins.Request {
	return &plugins.Request{
		Model: []byte("gpt-5.5"), Tenant: "acme", Path: "/v1/chat/completions", PoP: "fra1", Region: "eu-central",
		PromptTokens: tokens, Headers: []plugins.Header{{Name: []byte("user-agent"), Value: []byte("test")}},
	}
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		fixture string
		kind    plugins.Kind
		want    error
	}{
		{"badversion", 0, ErrABI},
		{"noversion", 0, ErrABI},
		{"nohooks", 0, ErrNoHook},
		{"badimport", 0, ErrImport},
		{"inittrap", 0, ErrInit},
		{"initfail", 0, ErrInit},
		{"echo", plugins.Kind(8), ErrBadConfig},
		{"flaky", plugins.KindRedact, ErrNoHook},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			p, err := Load(context.Background(), Config{Name: tt.fixture, Kind: tt.kind, Wasm: fixture(tt.fixture), PoolSize: 1}, quiet)
			if err == nil {
				p.Close()
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load error %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
	if _, err := Load(context.Background(), Config{Name: "x", Wasm: "testdata/missing.wasm"}, quiet); err == nil {
		t.Fatal("missing file loaded")
	}
}

func TestEchoRouteAndRedact(t *testing.T) {
	p := load(t, "echo", nil)
	if p.Name() != "echo" || p.ModuleName() != "fixture" || p.Version() != "0.0.1" || p.Kinds() != plugins.KindRoute|plugins.KindRedact {
		t.Fatalf("info: %q %q %q %v", p.Name(), p.ModuleName(), p.Version(), p.Kinds())
	}
	if !p.Fueled() {
		t.Fatal("module not instrumented with fuel")
	}
	ctx := context.Background()
	ups := testUpstreams()
	for _, tt := range []struct {
		tokens int32
		want   []int
	}{{0, nil}, {1, []int{0}}, {3, []int{2, 1, 0}}} {
		got, err := p.Route(ctx, testRequest(tt.tokens), ups, []int{7})
		if err != nil {
			t.Fatalf("Route: %v", err)
		}
		if len(got) != len(tt.want)+1 || got[0] != 7 {
			t.Fatalf("Route(%d) = %v, want 7 then %v", tt.tokens, got, tt.want)
		}
		for i, w := range tt.want {
			if got[i+1] != w {
				t.Fatalf("Route(%d) = %v, want 7 then %v", tt.tokens, got, tt.want)
			}
		}
	}

	v := new(plugins.Vault)
	out, err := p.Redact(ctx, []byte(`{"no":"match"}`), []byte("x"), v)
	if err != nil || string(out) != "x" || v.Len() != 0 {
		t.Fatalf("Redact(no match) = %q, %v, vault %d", out, err, v.Len())
	}
	out, err = p.Redact(ctx, []byte(`!{"a":1}`), nil, v)
	if err != nil || string(out) != `<BANG_1>{"a":1}` || v.Len() != 1 {
		t.Fatalf("Redact = %q, %v, vault %d", out, err, v.Len())
	}
	if o, ok := v.Lookup([]byte("<BANG_1>")); !ok || string(o) != "!" {
		t.Fatalf("vault: %q %v", o, ok)
	}
	// A large body grows the input buffer.
	big := make([]byte, 300<<10)
	big[0] = '!'
	out, err = p.Redact(ctx, big, nil, new(plugins.Vault))
	if err != nil || len(out) != len(big)+7 {
		t.Fatalf("Redact(300 KiB) = %d bytes, %v", len(out), err)
	}
	if err := p.Healthy(); err != nil {
		t.Fatal(err)
	}
}

func TestBadOutputIsAnError(t *testing.T) {
	p := load(t, "oob", nil)
	ctx := context.Background()
	ups := testUpstreams()
	for _, tt := range []struct {
		tokens int32
		want   error
	}{{0, ErrBadOutput}, {1, ErrBadOutput}, {2, ErrBadOutput}, {3, ErrBadOutput}, {4, ErrGuest}, {5, ErrExited}, {6, ErrBadOutput}, {7, nil}, {8, ErrBadOutput}} {
		got, err := p.Route(ctx, testRequest(tt.tokens), ups, nil)
		if !errors.Is(err, tt.want) || (err != nil && len(got) != 0) {
			t.Errorf("Route(mode %d) = %v, %v; want error %v", tt.tokens, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		body string
		want error
	}{{"a", ErrBadOutput}, {"b", ErrBadOutput}, {"c", ErrBadOutput}, {"d", ErrBadOutput}, {"{}", nil}, {"ok", nil},
		{"e", ErrBadOutput}, {"f", plugins.ErrBadPlaceholder}, {"g", plugins.ErrNotInBody}} {
		v := new(plugins.Vault)
		got, err := p.Redact(ctx, []byte(tt.body), nil, v)
		if !errors.Is(err, tt.want) {
			t.Errorf("Redact(%q) error %v, want %v", tt.body, err, tt.want)
		}
		if err != nil && (len(got) != 0 || v.Len() != 0) {
			t.Errorf("Redact(%q) failed but appended %q, vault %d", tt.body, got, v.Len())
		}
		if tt.body == "ok" && (string(got) != "<X_1>k" || v.Len() != 1) {
			t.Errorf("Redact(ok) = %q, vault %d", got, v.Len())
		}
	}
}

func TestMemoryBombContained(t *testing.T) {
	p := load(t, "bomb", func(c *Config) { c.MaxMemory = 8 << 20; c.PoolSize = 1 })
	ctx := context.Background()
	if _, err := p.Route(ctx, testRequest(0), testUpstreams(), nil); !errors.Is(err, ErrTrap) {
		t.Fatalf("bomb call error = %v, want ErrTrap", err)
	}
	// The instance was discarded; the next call gets a fresh one and succeeds,
	// leaving a bloated instance that is recycled rather than reused.
	for range 3 {
		got, err := p.Route(ctx, testRequest(1), testUpstreams(), nil)
		if err != nil || len(got) != 1 || got[0] != 0 {
			t.Fatalf("call after bomb = %v, %v", got, err)
		}
	}
}

func TestFuelStopsInfiniteLoop(t *testing.T) {
	p := load(t, "loop", func(c *Config) { c.OnError = plugins.OnErrorClosed })
	ctx := context.Background()
	_, err := p.Route(ctx, testRequest(0), testUpstreams(), nil)
	if !errors.Is(err, ErrFuelExhausted) {
		t.Fatalf("Route error = %v, want ErrFuelExhausted", err)
	}
	_, err = p.Redact(ctx, []byte("{}"), nil, new(plugins.Vault))
	if !errors.Is(err, ErrFuelExhausted) {
		t.Fatalf("Redact error = %v, want ErrFuelExhausted", err)
	}
	if Reason(err) != "fuel exhausted" {
		t.Fatalf("Reason = %q", Reason(err))
	}
}

func TestUnhealthyAfterKFailures(t *testing.T) {
	p := load(t, "flaky", nil)
	ctx := context.Background()
	for i := range FailureThreshold {
		if err := p.Healthy(); err != nil {
			t.Fatalf("unhealthy after %d failures: %v", i, err)
		}
		if _, err := p.Route(ctx, testRequest(0), testUpstreams(), nil); !errors.Is(err, ErrTrap) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if p.Healthy() == nil || p.Rebuilds() != 1 || p.Failures() != FailureThreshold {
		t.Fatalf("after K failures: healthy=%v rebuilds=%d failures=%d", p.Healthy(), p.Rebuilds(), p.Failures())
	}
	if _, err := p.Route(ctx, testRequest(1), testUpstreams(), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Healthy(); err != nil {
		t.Fatalf("one success should make it healthy: %v", err)
	}
}

func TestClose(t *testing.T) {
	p := load(t, "echo", nil)
	p.Close()
	p.Close()
	<-p.Done()
	if _, err := p.Route(context.Background(), testRequest(1), testUpstreams(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Route after Close: %v", err)
	}
}

func TestRebuildReplacesIdleInstances(t *testing.T) {
	p := load(t, "flaky", func(c *Config) { c.PoolSize = 3 })
	ctx := context.Background()
	for range FailureThreshold {
		p.Route(ctx, testRequest(0), testUpstreams(), nil)
	}
	if p.Rebuilds() != 1 {
		t.Fatalf("rebuilds %d", p.Rebuilds())
	}
	gen := p.gen.Load()
	for range 6 {
		in, err := p.get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if in.gen != gen {
			t.Fatalf("an instance from generation %d served after the rebuild to %d", in.gen, gen)
		}
		p.put(in, false)
	}
}

// A caller whose context ends while every instance is busy gets the context's
// error, and the plugin is not blamed for it.
func TestCancelledWaitIsNotAFailure(t *testing.T) {
	p := load(t, "echo", func(c *Config) { c.PoolSize = 1 })
	busy, err := p.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Route(ctx, testRequest(1), testUpstreams(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Route = %v, want context.Canceled", err)
	}
	p.put(busy, false)
	if p.Failures() != 0 {
		t.Fatalf("failures = %d", p.Failures())
	}
	if got, err := p.Route(context.Background(), testRequest(1), testUpstreams(), nil); err != nil || len(got) != 1 {
		t.Fatalf("Route after wait = %v, %v", got, err)
	}
}

// lineCounter is a slog.Handler that records messages.
type lineCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (h *lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *lineCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *lineCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lineCounter) WithGroup(string) slog.Handler      { return h }

// Guest output reaches the host log as whole lines, and a guest cannot flood it.
func TestGuestOutputIsLineBufferedAndCapped(t *testing.T) {
	h := new(lineCounter)
	o := quiet
	o.Logger = slog.New(h)
	p, err := Load(context.Background(), Config{Name: "printer", Wasm: fixture("printer"), PoolSize: 1}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Route(context.Background(), testRequest(0), testUpstreams(), nil)
	p.Route(context.Background(), testRequest(500), testUpstreams(), nil)
	h.mu.Lock()
	defer h.mu.Unlock()
	var guest []string
	for _, m := range h.msgs {
		if m != "plugin loaded" {
			guest = append(guest, m)
		}
	}
	if len(guest) < 4 || guest[0] != "hello" || guest[1] != "world" || guest[2] != "hello" || guest[3] != "world" {
		t.Fatalf("guest lines %q", guest[:min(len(guest), 6)])
	}
	if n := len(guest); n != maxGuestLines+1 || guest[n-1] != "further output of this instance dropped" {
		t.Fatalf("%d guest lines, last %q", n, guest[n-1])
	}
}
