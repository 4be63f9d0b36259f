// Package router is Switchyard's edge core. It has two lifetimes, kept apart
// (docs/RATIONALE.md "Why an Instance and Generations?"):
//
//   - The Instance (instance.go) lives as long as the process: the listener
//     and its fasthttp server, telemetry (metrics and tracing), the limiter's
//     counters and the managed keys, the admin listener (ops.go), the
//     response cache, the plugin runtime, and the upstreams' connection
//     pools and live statistics.
//   - A Generation (generation.go) is built from one config and never changes:
//     tenants, policies, upstream adapters and candidate tables, plugin chains.
//     It is the handler. A reload builds the next one beside the serving one
//     and swaps it in; the old one is released when its last request or
//     stream ends.
//
// The request's path reads top to bottom in pipeline.go; respond.go has the
// three ways an answer is written (cache hit, JSON relay, SSE relay).
package router

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/admin"
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/limits"
	"github.com/switchyard-dev/switchyard/router/telemetry"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// Wiring is what the command plugs into the core: everything that needs a
// cloud SDK or a plugin runtime (the core imports neither).
type Wiring struct {
	// Logger receives operational logs; nil means slog.Default(). Prompts,
	// completions and keys are never logged.
	Logger *slog.Logger
	// Adapter makes the adapter of one upstream; required.
	Adapter upstream.Builder
	// Plugins is the plugin runtime; nil refuses configs that list plugins.
	Plugins PluginHost
	// ReloadConfig re-reads the config the way SIGHUP does; the admin API's
	// POST /admin/reload calls it, then Reload. nil: the admin reload
	// answers 501.
	ReloadConfig func() (*config.Config, error)
}

// PluginHost is the process-lifetime plugin runtime.
type PluginHost interface {
	// Chains builds one generation's routing and redaction chains for ps.
	// Modules unchanged since an earlier generation are shared with it.
	Chains(ctx context.Context, cfg *config.Config) (Chains, error)
	// Healthy is nil unless a plugin keeps failing.
	Healthy() error
	// AppendMetrics appends the plugins' counters in Prometheus text format.
	AppendMetrics(dst []byte) []byte
	// Close stops the runtime. Safe to call twice.
	Close() error
}

// Chains are one generation's plugin chains. Immutable; safe for concurrent use.
type Chains interface {
	// Router returns the routing chain for a tenant's plugin names (empty =
	// all plugins), or nil when the tenant has no routing plugin.
	Router(names []string) plugins.Router
	// Redactor likewise for redaction plugins.
	Redactor(names []string) plugins.Redactor
	// Close releases the generation's hold on its modules. Safe to call twice.
	Close() error
}

// ErrNoWiring is returned when Wiring.Adapter is missing, or a config lists
// plugins and Wiring.Plugins is nil.
var ErrNoWiring = errors.New("router: missing wiring")

// Instance is one Switchyard process's router. Build it with New, serve with
// Serve, reload with Reload, stop with Close. Safe for concurrent use.
type Instance struct {
	log      *slog.Logger
	wiring   Wiring
	srv      *fasthttp.Server
	limits   config.Limits // the listener's: from the first config
	reg      *upstream.Registry
	tel      *telemetry.Telemetry // metrics and tracing; process lifetime
	count    counters
	load     load            // what the PoP serves now, against the generation's bounds (load.go)
	limiter  *limits.Limiter // rate-limit and budget counters; survive reloads
	keys     *limits.Keys    // managed keys; nil without keys.file
	admin    *admin.Server   // nil without admin.listen
	watch    *watcher        // notices clients that went away (gone.go)
	backs    handedBack      // connections a parked stream gave back to fasthttp (handback.go)
	park     *parker         // event loops of parked streams (park.go); nil: streams keep their goroutines
	opsCfg   opsSettings
	idPrefix []byte // "sy-<random hex>-": request IDs are this plus fasthttp's request ID

	mu     sync.Mutex // serialises Reload and Close; guards caches
	caches []*sharedCache
	cur    atomic.Pointer[Generation]
	closed atomic.Bool
}

// sharedCache is a response cache and the number of generations using it. A
// reload that keeps the cache's sizes keeps the cache (and its entries); one
// that changes them builds a new cache, and the old one is closed when the
// last generation using it is released. Guarded by Instance.mu.
type sharedCache struct {
	cfg  cache.Config
	c    *cache.Cache
	refs int
}

// New builds an instance and its first generation from a validated config.
// A failing New releases what it built.
func New(cfg *config.Config, w Wiring) (*Instance, error) {
	if w.Adapter == nil {
		return nil, fmt.Errorf("%w: Wiring.Adapter is required", ErrNoWiring)
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	in := &Instance{log: w.Logger, wiring: w, limits: cfg.Limits, reg: upstream.NewRegistry()}
	var rnd [4]byte
	crand.Read(rnd[:])
	in.idPrefix = fmt.Appendf(nil, "sy-%x-", rnd)
	in.srv = newHTTPServer(cfg.Limits, in.Handle, in.log)
	in.srv.ConnState = in.connState
	in.srv.ErrorHandler = in.serverError
	if err := in.startOps(cfg); err != nil {
		in.closeOps(context.Background())
		return nil, err
	}
	in.watch = newWatcher(in)
	in.setPoolOptions(cfg)
	g, err := in.build(context.Background(), cfg)
	if err != nil {
		in.closeOps(context.Background())
		return nil, err
	}
	in.cur.Store(g)
	in.park = newParker(in, cfg.Limits.StreamLoops)
	if err := in.startAdmin(cfg); err != nil {
		in.park.close()
		g.retire()
		in.closeOps(context.Background())
		return nil, err
	}
	return in, nil
}

// newHTTPServer is the client-facing fasthttp server with the listener limits.
func newHTTPServer(l config.Limits, h fasthttp.RequestHandler, log *slog.Logger) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:            h,
		ErrorHandler:       serverErrorHandler,
		Name:               "switchyard",
		MaxRequestBodySize: int(l.MaxBodyBytes),
		ReadBufferSize:     int(l.MaxHeaderBytes),
		// The read buffer (max_header_bytes, 16 KiB) and the write buffer go
		// back to fasthttp's pools between requests and the read buffer also
		// while the handler runs and the answer is written: a live stream and
		// an idle keep-alive connection hold neither (issue 16; RATIONALE.md
		// "Why ReduceMemoryUsage on the client-facing server?").
		ReduceMemoryUsage: true,
		ReadTimeout:       l.ReadTimeout,
		// No whole-response write deadline: Serve bounds each write instead
		// (writeBoundConn), so a stream lives as long as the request timeout
		// allows and the client reads.
		IdleTimeout: l.IdleTimeout,
		// A parked stream's connection is the relay's after the hijack and
		// goes back to fasthttp after the stream (park.go).
		KeepHijackedConns:             true,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		CloseOnShutdown:               true,
		DisableHeaderNamesNormalizing: false,
		Logger:                        fasthttpLogger{log},
	}
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	// fasthttp's messages carry connection errors, never request bodies.
	f.l.Debug("fasthttp", "msg", format)
}

// Serve accepts connections on ln until Close. Every write to a client is
// bounded by limits.write_timeout (see writeBoundConn).
func (in *Instance) Serve(ln net.Listener) error {
	return in.srv.Serve(writeBoundListener{Listener: ln, d: in.limits.WriteTimeout})
}

// writeBoundListener hands out writeBoundConns.
type writeBoundListener struct {
	net.Listener
	d time.Duration
}

func (l writeBoundListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	wc := &writeBoundConn{Conn: c, d: l.d, fd: -1}
	if sc, ok := c.(syscall.Conn); ok {
		// For the watcher's peek (gone.go) and a parked stream (park.go).
		if raw, err := sc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) { wc.fd = int(fd) })
			wc.raw = raw
		}
	}
	return wc, nil
}

// writeBoundConn bounds every write to the client by d, not the whole
// response. Why? fasthttp's WriteTimeout is one deadline per response, so a
// reasoning model's stream that lasts longer than write_timeout was cut
// mid-answer (issue 11); a per-write bound still cuts a client that stops
// reading, within d, however long the stream. fasthttp's own write
// deadlines are ignored: this one replaces them. Not safe for concurrent
// writes, like the connection (fasthttp writes a response from one goroutine).
//
// It also reads a request's first bytes ahead (see Read).
type writeBoundConn struct {
	net.Conn
	d     time.Duration   // 0: writes are not bounded
	raw   syscall.RawConn // nil when the connection has no descriptor (TLS, tests); the watcher peeks with it (gone.go)
	ahead *[]byte         // bytes read by the first-byte read, not yet returned
	off   int
	fd    int // the socket, for a parked stream's event loop; -1 without raw
	// served receives once fasthttp's goroutine is done with the
	// connection after a hijack (connState): only then may it be served
	// again (park.go). Made by the first stream that hijacks it.
	served chan struct{}
	// On the instance's list of connections given back to fasthttp that
	// have not started their next request (handback.go).
	bnext, bprev *writeBoundConn
	back         atomic.Bool

	readFn func(fd uintptr) bool // readAhead's callback, bound once
	rerr   error
}

func (c *writeBoundConn) Write(p []byte) (int, error) {
	if c.d <= 0 {
		return c.Conn.Write(p)
	}
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.d)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// SetWriteDeadline ignores the caller's deadline; see writeBoundConn.
func (c *writeBoundConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline sets the read deadline only; see writeBoundConn.
func (c *writeBoundConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// Handle is the fasthttp handler: it enters the current generation and serves
// the request there. A request that entered a generation finishes on it, even
// if a reload swaps in the next one meanwhile.
func (in *Instance) Handle(ctx *fasthttp.RequestCtx) {
	stripe := int(ctx.ConnID() % stripes)
	g := in.enter(stripe)
	g.serve(ctx, stripe)
	g.leave(stripe)
}

// enter returns the current generation with a hold on it.
func (in *Instance) enter(stripe int) *Generation {
	for {
		if g := in.cur.Load(); g.enter(stripe) {
			return g
		}
		// Swapped out between the load and the hold: take the next one.
	}
}

// Current is the generation new requests go to.
func (in *Instance) Current() *Generation { return in.cur.Load() }

// Registry is the upstreams' process-lifetime statistics and pools.
func (in *Instance) Registry() *upstream.Registry { return in.reg }

// Reload builds a generation for cfg beside the serving one and swaps it in;
// requests and streams in flight finish on the old one, which is released
// when its last one ends. On any error nothing changes and the old config
// keeps serving. Listener limits (body and header size, read/write/idle
// timeouts) belong to connections that outlive a reload: changing them takes
// a restart, and Reload says so in the log.
func (in *Instance) Reload(ctx context.Context, cfg *config.Config) error {
	if in.closed.Load() {
		return ErrClosed
	}
	if cfg.Limits.MaxBodyBytes != in.limits.MaxBodyBytes || cfg.Limits.MaxHeaderBytes != in.limits.MaxHeaderBytes ||
		cfg.Limits.ReadTimeout != in.limits.ReadTimeout || cfg.Limits.WriteTimeout != in.limits.WriteTimeout ||
		cfg.Limits.IdleTimeout != in.limits.IdleTimeout || cfg.Limits.StreamLoops != in.limits.StreamLoops {
		in.log.Warn("reload: listener limits (body, header, read/write/idle timeouts, stream loops) take effect at the next restart")
	}
	in.warnOps(cfg)
	in.setPoolOptions(cfg)
	g, err := in.build(ctx, cfg)
	if err != nil {
		return err
	}
	old := in.cur.Swap(g)
	old.retire()
	return nil
}

// setPoolOptions gives cfg's upstream_pool settings to the registry before a
// generation is built from cfg: the pools that build makes use them, and a
// pool whose settings did not change is kept. Every build is preceded by
// this call, so a failed reload's settings never outlive it.
func (in *Instance) setPoolOptions(cfg *config.Config) {
	in.reg.SetPoolOptions(upstream.PoolOptions{MaxConnWait: cfg.UpstreamPool.MaxConnWait,
		ReadBufferSize: int(cfg.UpstreamPool.ReadBufferBytes)})
}

// ErrClosed is returned by Reload after Close.
var ErrClosed = errors.New("router: instance closed")

// Close stops accepting, lets requests and streams in flight finish (bounded
// by ctx), then releases the generation, the caches and the plugin runtime.
// Safe to call twice.
func (in *Instance) Close(ctx context.Context) error {
	if !in.closed.CompareAndSwap(false, true) {
		return nil
	}
	stop := in.closeHandedBack()
	err := in.srv.ShutdownWithContext(ctx)
	close(stop)
	g := in.cur.Load()
	g.retire()
	select {
	case <-g.Released():
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	in.park.close() // streams still parked past ctx are cut
	if in.wiring.Plugins != nil {
		in.wiring.Plugins.Close()
	}
	if cerr := in.closeOps(ctx); err == nil {
		err = cerr
	}
	in.watch.close()
	return err
}

// acquireCache returns the cache for cfg's sizes, shared with the generations
// that have the same sizes, or nil when no policy can cache.
func (in *Instance) acquireCache(cfg *config.Config) (*sharedCache, error) {
	if !cachingUsed(cfg) {
		return nil, nil
	}
	cc := cache.Config{MaxBytes: int64(cfg.Cache.MaxBytes), MaxEntryBytes: int64(cfg.Cache.MaxEntryBytes),
		TTL: cfg.Cache.TTL, MaxTTL: cfg.Cache.MaxTTL}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, sc := range in.caches {
		if sc.cfg == cc {
			sc.refs++
			return sc, nil
		}
	}
	c, err := cache.New(cc)
	if err != nil {
		return nil, err
	}
	sc := &sharedCache{cfg: cc, c: c, refs: 1}
	in.caches = append(in.caches, sc)
	return sc, nil
}

func (in *Instance) releaseCache(sc *sharedCache) {
	if sc == nil {
		return
	}
	in.mu.Lock()
	sc.refs--
	last := sc.refs == 0
	if last {
		for i, x := range in.caches {
			if x == sc {
				in.caches = append(in.caches[:i], in.caches[i+1:]...)
				break
			}
		}
	}
	in.mu.Unlock()
	if last {
		sc.c.Close()
	}
}

// cachingUsed reports whether any policy (global, tenant or model) can cache,
// i.e. whether a response cache is worth building for cfg.
func cachingUsed(cfg *config.Config) bool {
	if cfg.Cache.Policy != "off" {
		return true
	}
	for _, t := range cfg.Tenants {
		if t.CachePolicy != "" && t.CachePolicy != "off" {
			return true
		}
	}
	for _, p := range cfg.Cache.Models {
		if p != "off" {
			return true
		}
	}
	return false
}
