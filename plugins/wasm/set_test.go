package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

func manual() Options { o := quiet; o.PollInterval = -1; return o }

func newSet(t *testing.T, ps ...Config) *Set {
	t.Helper()
	s, err := NewSet(context.Background(), ps, manual())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func cfg(name, file, kind, onError string) Config {
	k, err := plugins.ParseKind(kind)
	if err != nil {
		panic(err)
	}
	o, err := plugins.ParseOnError(onError)
	if err != nil {
		panic(err)
	}
	return Config{Name: name, Wasm: fixture(file), Kind: k, OnError: o, PoolSize: 2}
}

func healthyOnly(name string) Config {
	return Config{Name: name, Wasm: "../../examples/plugins/wat/healthy-only/plugin.wasm", PoolSize: 1}
}

func TestChainPolicy(t *testing.T) {
	ctx := context.Background()
	ups := testUpstreams()
	tests := []struct {
		name    string
		ps      []Config
		tenant  []string
		tokens  int32
		want    []int
		wantErr string
	}{
		{"first with opinion wins", []Config{cfg("a", "echo", "route", ""), cfg("b", "oob", "route", "")}, nil, 2, []int{1, 0}, ""},
		{"no opinion falls through", []Config{cfg("a", "echo", "route", ""), healthyOnly("b")}, nil, 0, []int{0, 2}, ""},
		{"open skips a failure", []Config{cfg("a", "loop", "route", "open"), cfg("b", "echo", "route", "")}, nil, 1, []int{0}, ""},
		{"route default is open", []Config{cfg("a", "loop", "route", "")}, nil, 1, nil, ""},
		{"closed fails the request", []Config{cfg("a", "loop", "route", "closed"), cfg("b", "echo", "route", "")}, nil, 1, nil,
			`routing plugin "a" failed: fuel exhausted`},
		{"tenant filter", []Config{cfg("a", "loop", "route", "closed"), cfg("b", "echo", "route", "")}, []string{"b"}, 1, []int{0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSet(t, tt.ps...)
			got, err := s.Router(tt.tenant).Route(ctx, testRequest(tt.tokens), ups, nil)
			if tt.wantErr != "" {
				var pe *plugins.Error
				if !errors.As(err, &pe) || pe.Status != 503 || pe.Code != "plugin_failed" || pe.Message != tt.wantErr {
					t.Fatalf("error = %#v, want 503 %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("Route = %v, %v; want %v", got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("Route = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestRedactChain(t *testing.T) {
	ctx := context.Background()
	s := newSet(t, cfg("bang", "echo", "redact", ""), cfg("x", "oob", "redact", ""))
	r := s.Redactor(nil)
	v := new(plugins.Vault)
	// echo turns "!..." into "<BANG_1>..."; oob then sees '<' and answers its
	// valid record, replacing the body's first byte by <X_1>.
	out, err := r.Redact(ctx, []byte(`!abc`), []byte("pre:"), v)
	if err != nil || string(out) != "pre:<X_1>BANG_1>abc" || v.Len() != 2 {
		t.Fatalf("Redact = %q, %v, vault %d", out, err, v.Len())
	}
	// Nothing matches: dst unchanged.
	v.Reset()
	out, err = r.Redact(ctx, []byte(`{"a":1}`), []byte("pre:"), v)
	if err != nil || string(out) != "pre:" || v.Len() != 0 {
		t.Fatalf("Redact(no match) = %q, %v, vault %d", out, err, v.Len())
	}
	// Redact's default is closed.
	s2 := newSet(t, cfg("pii", "loop", "redact", ""))
	_, err = s2.Redactor(nil).Redact(ctx, []byte(`{}`), nil, new(plugins.Vault))
	var pe *plugins.Error
	if !errors.As(err, &pe) || pe.Message != `redaction plugin "pii" failed: fuel exhausted` {
		t.Fatalf("closed redact error = %v", err)
	}
}

// TestThousandConcurrentCallsLoseNone: 1,000 concurrent calls through a
// plugin that traps on 1% of them; each gets a result or the policy's answer.
func TestThousandConcurrentCallsLoseNone(t *testing.T) {
	for _, onError := range []string{"open", "closed"} {
		t.Run(onError, func(t *testing.T) {
			s := newSet(t, cfg("flaky", "flaky", "route", onError))
			r := s.Router(nil)
			ups := testUpstreams()
			var ok, refused, skipped atomic.Int32
			var wg sync.WaitGroup
			for i := range 1000 {
				wg.Go(func() {
					got, err := r.Route(context.Background(), testRequest(int32(i+1)), ups, nil)
					var pe *plugins.Error
					switch {
					case err == nil && len(got) == 1 && got[0] == 0:
						ok.Add(1)
					case err == nil && len(got) == 0 && onError == "open":
						skipped.Add(1)
					case errors.As(err, &pe) && pe.Status == 503 && onError == "closed":
						refused.Add(1)
					default:
						t.Errorf("call %d: %v, %v", i, got, err)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 990 || skipped.Load()+refused.Load() != 10 {
				t.Fatalf("ok %d, skipped %d, refused %d; want 990 and 10", ok.Load(), skipped.Load(), refused.Load())
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// TestHotReload swaps modules while calls are in flight: none fails, a bad
// file is refused and the old module keeps serving.
func TestHotReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.wasm")
	copyFile(t, fixture("echo"), file)
	c := Config{Name: "p", Kind: plugins.KindRoute, Wasm: file, OnError: plugins.OnErrorClosed, PoolSize: 2}
	s := newSet(t, c)
	r := s.Router(nil)
	ups := testUpstreams()

	stop := make(chan struct{})
	var calls atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// echo answers [0], healthy-only [0 2]: either module may serve.
				got, err := r.Route(context.Background(), testRequest(1), ups, nil)
				if err != nil || len(got) == 0 || got[0] != 0 {
					t.Errorf("call during reload: %v, %v", got, err)
					return
				}
				calls.Add(1)
			}
		})
	}
	first := s.Plugins()[0]
	// Config reloads with a changed config build new plugins each time.
	for i := range 5 {
		c.InitConfig = []byte(`{"round":` + strconv.Itoa(i) + `}`)
		if err := s.Reload([]Config{c}); err != nil {
			t.Fatal(err)
		}
	}
	<-first.Done() // the first module closed once its calls returned

	// File reloads: a broken file is refused, the old module keeps serving.
	before := s.Plugins()[0]
	if err := os.WriteFile(file, []byte("\x00asm garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadChangedFiles(); err == nil {
		t.Fatal("broken module was accepted")
	}
	if s.Plugins()[0] != before {
		t.Fatal("broken module replaced the old one")
	}
	if err := s.ReloadChangedFiles(); err != nil {
		t.Fatalf("unchanged broken file retried: %v", err)
	}
	// A good file is swapped in: healthy-only answers [0 2] for our table.
	copyFile(t, "../../examples/plugins/wat/healthy-only/plugin.wasm", file)
	if err := s.ReloadChangedFiles(); err != nil {
		t.Fatal(err)
	}
	if s.Plugins()[0].ModuleName() != "healthy-only" {
		t.Fatalf("module after reload: %q", s.Plugins()[0].ModuleName())
	}
	close(stop)
	wg.Wait()
	if calls.Load() == 0 {
		t.Fatal("no calls ran during the reloads")
	}
	got, err := r.Route(context.Background(), testRequest(1), ups, nil)
	if err != nil || len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Fatalf("after reload: %v, %v", got, err)
	}
	// A config reload that fails keeps the old set.
	bad := c
	bad.Wasm = fixture("badversion")
	if err := s.Reload([]Config{bad}); err == nil {
		t.Fatal("bad config accepted")
	}
	if s.Plugins()[0].ModuleName() != "healthy-only" {
		t.Fatal("failed reload changed the set")
	}
	if err := s.Healthy(); err != nil {
		t.Fatal(err)
	}
}

// TestWatcherReloadsChangedFile runs the real watcher: a changed file is
// picked up without a call to ReloadChangedFiles.
func TestWatcherReloadsChangedFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.wasm")
	copyFile(t, fixture("echo"), file)
	reloaded := make(chan error, 4)
	o := quiet
	o.PollInterval = 5 * time.Millisecond
	o.OnReload = func(name string, err error) { reloaded <- err }
	s, err := NewSet(context.Background(), []Config{{Name: "p", Kind: plugins.KindRoute, Wasm: file, PoolSize: 1}}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	copyFile(t, "../../examples/plugins/wat/healthy-only/plugin.wasm", file)
	select {
	case err := <-reloaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watcher did not reload within 10s")
	}
	if got := s.Plugins()[0].ModuleName(); got != "healthy-only" {
		t.Fatalf("serving %q", got)
	}
}

// The Set is a plugins.Host: its Stats snapshots carry the module's identity,
// the pool and the counters, and render as Prometheus text.
func TestSetStats(t *testing.T) {
	s := newSet(t, cfg("r", "oob", "route", "open"))
	r := s.Router(nil)
	if r.Empty() || !s.Redactor([]string{"nobody"}).Empty() {
		t.Fatal("Empty is wrong")
	}
	ctx, ups := context.Background(), testUpstreams()
	r.Route(ctx, testRequest(7), ups, nil) // valid
	r.Route(ctx, testRequest(3), ups, nil) // index 99: a failure, skipped
	st := s.Stats(nil)
	if len(st) != 1 {
		t.Fatalf("%d stats", len(st))
	}
	got := st[0]
	sum := sha256.Sum256(mustRead(t, fixture("oob")))
	if got.Name != "r" || got.Module != "fixture" || got.Version != "0.0.1" || got.Kinds != plugins.KindRoute ||
		got.ModuleSHA256 != hex.EncodeToString(sum[:]) || got.Calls != 2 || got.Failures != 1 || got.Skipped != 1 ||
		got.PoolSize != 2 || !got.Healthy {
		t.Fatalf("stats %+v", got)
	}
	waitFor(t, "the pool to refill", func() bool { st := s.Stats(nil)[0]; return st.Instances == 2 && st.InUse == 0 })
	m := string(plugins.AppendMetrics(nil, s.Stats(nil)))
	for _, want := range []string{`switchyard_plugin_calls_total{plugin="r"} 2`, `switchyard_plugin_skipped_total{plugin="r"} 1`,
		`switchyard_plugin_instances{plugin="r"} 2`, `switchyard_plugin_healthy{plugin="r"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
