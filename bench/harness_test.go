package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/internal/wire"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

// The harness: mock clouds on loopback, routers served over an in-memory
// listener and a loopback listener at once, and clients for both. Every
// benchmark in this package builds its targets with these helpers so that a
// path and its baseline share one process, one run and one client shape.

const (
	mockKey = "sk-bench"
	model   = "gpt-4o-mini"
	chatURI = "/v1/chat/completions"
	// ioTimeout bounds every exchange, so a broken path fails the benchmark
	// instead of hanging it.
	ioTimeout = 10 * time.Second
)

// Request bodies. Misses use temperature 0.7 (never cacheable under the
// default deterministic policy); hits use temperature 0. The e-mail address
// gives the redaction plugin something to rewrite and the router something to
// restore in the answer.
var (
	missJSON   = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello from the benchmark"}],"temperature":0.7}`)
	missSSE    = []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello from the benchmark"}],"temperature":0.7}`)
	hitJSON    = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello from the benchmark"}],"temperature":0}`)
	hitSSE     = []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello from the benchmark"}],"temperature":0}`)
	redactJSON = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Write to jane.doe@example.com about the benchmark"}],"temperature":0.7}`)
)

// Example plugins, relative to this package's directory (where go test runs).
// The Go ones are built by `make plugins` (examples/plugins/build.sh); the C
// one is committed.
const (
	goRoutePlugin  = "../examples/plugins/go/cheapest-healthy/plugin.wasm"
	cRoutePlugin   = "../examples/plugins/c/lowest-latency/plugin.wasm"
	goRedactPlugin = "../examples/plugins/go/redact-email/plugin.wasm"
)

// startMock starts an OpenAI mock on loopback for tb's lifetime.
func startMock(tb testing.TB, reply func(string) string) *mockcloud.Server {
	tb.Helper()
	m, err := mockcloud.Start(mockcloud.Options{Provider: mockcloud.OpenAI, APIKey: mockKey, Models: []string{model}, Reply: reply})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// benchConfig is two OpenAI upstreams (a routing plugin needs a choice; the
// cheaper one is first, so the default order and cheapest-healthy agree) and
// the given plugins, with defaults applied and validated.
func benchConfig(tb testing.TB, a, b *mockcloud.Server, ps ...config.Plugin) *config.Config {
	tb.Helper()
	up := func(name string, m *mockcloud.Server, in, out float64) config.Upstream {
		return config.Upstream{Name: name, Provider: "openai", BaseURL: m.URL(), Auth: config.Auth{APIKey: mockKey},
			Models: map[string]string{model: model}, Price: config.Price{Input: in, Output: out}}
	}
	cfg := &config.Config{
		Listen:    "127.0.0.1:0",
		Upstreams: []config.Upstream{up("openai-a", a, 0.15, 0.60), up("openai-b", b, 0.30, 1.20)},
		Plugins:   ps,
		Log:       config.Log{Level: "error"},
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// plugin describes one example plugin; it skips tb when the module has not
// been built, naming the command that builds it.
func plugin(tb testing.TB, name, kind, path string, conf map[string]any) config.Plugin {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("%s not built: run `make plugins` (examples/plugins/build.sh) first", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		tb.Fatal(err)
	}
	return config.Plugin{Name: name, Kind: kind, Wasm: abs, Config: conf}
}

func goRoute(tb testing.TB) config.Plugin {
	return plugin(tb, "cheapest", "route", goRoutePlugin, nil)
}

func cRoute(tb testing.TB) config.Plugin {
	return plugin(tb, "lowest-latency", "route", cRoutePlugin, nil)
}

func redact(tb testing.TB) config.Plugin {
	return plugin(tb, "pii", "redact", goRedactPlugin, map[string]any{"entities": []any{"email"}})
}

// served is one router reachable two ways: over an in-memory listener
// (client and server exchange bytes through memory, no kernel) and over a
// loopback TCP listener. Both are served by the same router.Server.
type served struct {
	inmem, loopback *fasthttp.HostClient
}

// client returns the client for transport "inmem" or "loopback".
func (s served) client(transport string) *fasthttp.HostClient {
	if transport == "inmem" {
		return s.inmem
	}
	return s.loopback
}

// quiet discards logs: benchmarks print figures, not log lines.
var quiet = slog.New(slog.DiscardHandler)

// startRouter builds a router (and its plugin set, when cfg has plugins) and
// serves it on both listeners until tb ends.
func startRouter(tb testing.TB, cfg *config.Config) served {
	tb.Helper()
	srv, err := router.New(cfg, wire.Router(wire.Options{Logger: quiet, PluginPoll: -1, PluginCacheDir: wasmCacheDir(tb)}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return serve(tb, srv.Serve)
}

// wasmCacheDir is wazero's compilation cache, shared by every plugin set of
// one run so that a module is compiled once, not once per router.
func wasmCacheDir(tb testing.TB) string {
	dir := filepath.Join(os.TempDir(), "switchyard-bench-wazero")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// serve runs a server function on an in-memory and a loopback listener and
// returns a client for each. The listeners close when tb ends (the caller
// registers the server's own shutdown).
func serve(tb testing.TB, serveFn func(net.Listener) error) served {
	tb.Helper()
	mem := fasthttputil.NewInmemoryListener()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go serveFn(mem)
	go serveFn(tcp)
	tb.Cleanup(func() { mem.Close(); tcp.Close() })
	return served{
		inmem:    &fasthttp.HostClient{Addr: "inmem", Dial: func(string) (net.Conn, error) { return mem.Dial() }, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout},
		loopback: &fasthttp.HostClient{Addr: tcp.Addr().String(), ReadTimeout: ioTimeout, WriteTimeout: ioTimeout},
	}
}

// serveBare serves a bare fasthttp handler that answers every request with
// resp's status, headers and body: the ceiling a cache hit is measured against.
func serveBare(tb testing.TB, resp *fasthttp.Response) served {
	tb.Helper()
	var canned fasthttp.Response
	resp.CopyTo(&canned)
	srv := &fasthttp.Server{
		Handler:               func(ctx *fasthttp.RequestCtx) { canned.CopyTo(&ctx.Response) },
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
	}
	tb.Cleanup(func() { srv.Shutdown() })
	return serve(tb, srv.Serve)
}

// directClient talks to a mock cloud itself, over loopback.
func directClient(m *mockcloud.Server) *fasthttp.HostClient {
	return &fasthttp.HostClient{Addr: m.Addr(), ReadTimeout: ioTimeout, WriteTimeout: ioTimeout}
}

// target is one request path under measurement.
type target struct {
	c    *fasthttp.HostClient
	body []byte
	auth bool // send the mock's key (direct requests; the router runs without client auth)
	// cache is the x-switchyard-cache value every answer must carry ("" = not checked).
	cache string
}

// newRequest builds the POST the target sends; the caller releases it.
func (t target) newRequest() *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://" + t.c.Addr + chatURI)
	req.Header.SetContentType("application/json")
	if t.auth {
		req.Header.Set("Authorization", "Bearer "+mockKey)
	}
	req.SetBody(t.body)
	return req
}

// do sends one request and checks the answer: 200, and the cache header when
// the target names one. It returns an error rather than failing tb so that
// RunParallel's goroutines can use it too.
func (t target) do(req *fasthttp.Request, resp *fasthttp.Response) error {
	if err := t.c.Do(req, resp); err != nil {
		return fmt.Errorf("%s: %w", t.c.Addr, err)
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return fmt.Errorf("%s: status %d: %.300s", t.c.Addr, resp.StatusCode(), resp.Body())
	}
	if t.cache != "" {
		if got := resp.Header.Peek("x-switchyard-cache"); string(got) != t.cache {
			return fmt.Errorf("%s: x-switchyard-cache %q, want %q", t.c.Addr, got, t.cache)
		}
	}
	return nil
}

// once sends one request and returns a copy of the response.
func (t target) once(tb testing.TB) *fasthttp.Response {
	tb.Helper()
	req := t.newRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := &fasthttp.Response{}
	if err := t.do(req, resp); err != nil {
		tb.Fatal(err)
	}
	return resp
}

// warm sends the target's request until the answer carries the target's
// cache header (a hit needs the miss before it stored), bounded by ioTimeout.
func (t target) warm(tb testing.TB) *fasthttp.Response {
	tb.Helper()
	req := t.newRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := &fasthttp.Response{}
	deadline := time.Now().Add(ioTimeout)
	for {
		err := t.do(req, resp)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			tb.Fatal(err)
		}
		runtime.Gosched()
	}
}

// run is the body of one sub-benchmark: b.N sequential requests on one
// keep-alive connection.
func (t target) run(b *testing.B) {
	t.warm(b) // dial, fill the cache, warm pools outside the timer
	req, resp := t.newRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := t.do(req, resp); err != nil {
			b.Fatal(err)
		}
	}
}

// runParallel is run with b.RunParallel: one client connection per
// goroutine, GOMAXPROCS goroutines, for throughput.
func (t target) runParallel(b *testing.B) {
	t.warm(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := t.newRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			if err := t.do(req, resp); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// sseEvents counts the `data:` events in an SSE body.
func sseEvents(body []byte) int {
	return bytes.Count(body, []byte("data: "))
}
