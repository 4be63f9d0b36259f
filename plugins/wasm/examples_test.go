package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

var goBuild struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goBuild.dir != "" {
		os.RemoveAll(goBuild.dir)
	}
	os.Exit(code)
}

// goExample builds examples/plugins/go/<name> once per test binary and
// returns the module's path.
func goExample(t testing.TB, name string) string {
	t.Helper()
	goBuild.once.Do(func() {
		goBuild.dir, goBuild.err = os.MkdirTemp("", "switchyard-go-plugins")
		if goBuild.err != nil {
			return
		}
		for _, ex := range []string{"cheapest-healthy", "redact-email"} {
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(goBuild.dir, ex+".wasm"), ".")
			cmd.Dir = filepath.Join("..", "..", "examples", "plugins", "go", ex)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				goBuild.err = fmt.Errorf("building %s: %v\n%s", ex, err, out)
				return
			}
		}
	})
	if goBuild.err != nil {
		t.Fatal(goBuild.err)
	}
	return filepath.Join(goBuild.dir, name+".wasm")
}

func loadPath(t testing.TB, c Config) *Plugin {
	t.Helper()
	p, err := Load(context.Background(), c, quiet)
	if err != nil {
		t.Fatalf("Load(%s): %v", c.Wasm, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestGoCheapestHealthy(t *testing.T) {
	p := loadPath(t, Config{Name: "cheap", Kind: plugins.KindRoute, Wasm: goExample(t, "cheapest-healthy"), PoolSize: 2})
	if p.ModuleName() != "cheapest-healthy" || p.Version() != "1.0.0" || p.Kinds() != plugins.KindRoute {
		t.Fatalf("info %q %q %v", p.ModuleName(), p.Version(), p.Kinds())
	}
	ups := testUpstreams()
	ups = append(ups, plugins.Upstream{Name: "vertex", Healthy: true, LatencyUS: 100, PriceIn: 1.25, PriceOut: 10})
	for range 3 {
		got, err := p.Route(context.Background(), testRequest(10), ups, nil)
		// bedrock-us (1) is cheapest but unhealthy; 0, 2, 3 cost the same:
		// by latency 3 (100µs), 2 (800ms), 0 (900ms).
		if err != nil || fmt.Sprint(got) != "[3 2 0]" {
			t.Fatalf("Route = %v, %v", got, err)
		}
	}
	for i := range ups {
		ups[i].Healthy = false
	}
	if got, err := p.Route(context.Background(), testRequest(10), ups, nil); err != nil || len(got) != 0 {
		t.Fatalf("no healthy upstream: %v, %v", got, err)
	}
	if _, err := Load(context.Background(), Config{Name: "x", Kind: plugins.KindRedact, Wasm: goExample(t, "cheapest-healthy")}, quiet); err == nil {
		t.Fatal("a route-only Go plugin loaded as redact")
	}
}

func TestGoRedactEmail(t *testing.T) {
	p := loadPath(t, Config{Name: "pii", Kind: plugins.KindRedact, Wasm: goExample(t, "redact-email"), PoolSize: 2,
		InitConfig: []byte(`{"entities":["email"]}`)})
	body := `{"messages":[{"role":"user","content":"mail bob@example.com,\nann.lee+x@mail.example.org and bob@example.com."}]}`
	v := new(plugins.Vault)
	out, err := p.Redact(context.Background(), []byte(body), nil, v)
	want := `{"messages":[{"role":"user","content":"mail <EMAIL_1>,\n<EMAIL_2> and <EMAIL_1>."}]}`
	if err != nil || string(out) != want {
		t.Fatalf("Redact = %s, %v\nwant %s", out, err, want)
	}
	if v.Len() != 2 {
		t.Fatalf("vault has %d pairs", v.Len())
	}
	if got := v.Restore(nil, out); string(got) != body {
		t.Fatalf("Restore = %s", got)
	}
	out, err = p.Redact(context.Background(), []byte(`{"content":"no address @ here"}`), nil, new(plugins.Vault))
	if err != nil || len(out) != 0 {
		t.Fatalf("no match: %q, %v", out, err)
	}
	_, err = Load(context.Background(), Config{Name: "pii", Wasm: goExample(t, "redact-email"), PoolSize: 1,
		InitConfig: []byte(`{"entities":["phone"]}`)}, quiet)
	if err == nil {
		t.Fatal("unknown entity accepted")
	}
	t.Log(err)
}

func TestCLowestLatency(t *testing.T) {
	p := loadPath(t, Config{Name: "fast", Wasm: "../../examples/plugins/c/lowest-latency/plugin.wasm", PoolSize: 1})
	if p.ModuleName() != "lowest-latency" || p.Kinds() != plugins.KindRoute {
		t.Fatalf("info %q %v", p.ModuleName(), p.Kinds())
	}
	// TTFB: azure-eu 300ms, bedrock-us 200ms but unhealthy, openai 250ms.
	got, err := p.Route(context.Background(), testRequest(10), testUpstreams(), nil)
	if err != nil || fmt.Sprint(got) != "[2 0]" {
		t.Fatalf("Route = %v, %v", got, err)
	}
}

// TestRedactorsDoNotCollide: a second redactor numbers its placeholders
// past those an earlier one took, and a guest that reuses a taken
// placeholder for another original is refused.
func TestRedactorsDoNotCollide(t *testing.T) {
	ctx := context.Background()
	p := loadPath(t, Config{Name: "pii", Wasm: goExample(t, "redact-email"), PoolSize: 1})
	v := new(plugins.Vault)
	v.Add([]byte("<EMAIL_1>"), []byte("first@example.com"))
	out, err := p.Redact(ctx, []byte(`{"c":"<EMAIL_1> and a@example.com"}`), nil, v)
	if err != nil || string(out) != `{"c":"<EMAIL_1> and <EMAIL_2>"}` {
		t.Fatalf("Redact = %s, %v", out, err)
	}
	if o, _ := v.Lookup([]byte("<EMAIL_2>")); string(o) != "a@example.com" {
		t.Fatalf("vault <EMAIL_2> = %q", o)
	}

	bad := load(t, "oob", nil) // answers pair <X_1> → x for body "ok"
	v.Reset()
	v.Add([]byte("<X_1>"), []byte("someone else"))
	if _, err := bad.Redact(ctx, []byte("ok"), nil, v); !errors.Is(err, ErrBadOutput) {
		t.Fatalf("taken placeholder accepted: %v", err)
	}
	if v.Len() != 1 {
		t.Fatalf("vault changed: %d pairs", v.Len())
	}
}

// TestGoPluginsStayWithinDefaultFuel guards against a regression: with Go's
// garbage collector on, a collection ran inside a random call and cost it
// more than the default fuel budget (1 call in ~5,000 failed). The SDK turns
// the collector off and the host recycles instances by memory instead.
func TestGoPluginsStayWithinDefaultFuel(t *testing.T) {
	ctx := context.Background()
	route := loadPath(t, Config{Name: "r", Wasm: goExample(t, "cheapest-healthy"), PoolSize: 1})
	redact := loadPath(t, Config{Name: "pii", Wasm: goExample(t, "redact-email"), PoolSize: 1})
	body, ups, req := benchBody(true), testUpstreams(), testRequest(100)
	v := new(plugins.Vault)
	var out []byte
	var dst []int
	for i := range 10_000 {
		var err error
		if dst, err = route.Route(ctx, req, ups, dst[:0]); err != nil {
			t.Fatalf("route call %d: %v", i, err)
		}
		v.Reset()
		if out, err = redact.Redact(ctx, body, out[:0], v); err != nil {
			t.Fatalf("redact call %d: %v", i, err)
		}
	}
}
