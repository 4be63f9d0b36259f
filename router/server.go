// Package router is Switchyard's edge core. Server wires the stages of one
// request in order — accept, parse, identify, redact, cache, route, forward,
// respond, record — and this file reads top to bottom in that order.
package router

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// PluginHost is what the router needs from the plugin runtime (plugins/wasm's
// Set implements it). The core never imports a runtime.
type PluginHost interface {
	// Router returns the routing chain for a tenant's plugin list (empty = all),
	// or nil when there are no routing plugins.
	Router(tenantPlugins []string) plugins.Router
	// Redactor likewise for redaction plugins.
	Redactor(tenantPlugins []string) plugins.Redactor
	// Healthy is nil unless a plugin keeps failing.
	Healthy() error
}

// emptier is implemented by plugin chains that can say they have no plugin
// for their hook (plugins/wasm's chains do): the stage is then skipped.
type emptier interface{ Empty() bool }

func hasPlugins(v any) bool {
	if v == nil {
		return false
	}
	e, ok := v.(emptier)
	return !ok || !e.Empty()
}

// Options are the parts the command wires in.
type Options struct {
	// Logger receives operational logs; nil means slog.Default(). Prompts,
	// completions and keys are never logged.
	Logger *slog.Logger
	// Build makes an adapter per upstream (see cmd/switchyard); required.
	Build upstream.Builder
	// Plugins is the plugin runtime; nil runs without plugins.
	Plugins PluginHost
	// Cache, when set, is the response cache to use instead of building one
	// from cfg.Cache: a config reload keeps its entries. The caller owns it.
	Cache *cache.Cache
}

// Server is one running router. Build it with New, run it with Serve, stop it
// with Close. Safe for concurrent use.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	ups      *upstream.Set
	plugins  PluginHost
	tenants  map[string]*tenant // by client key
	deflt    *tenant            // when no tenants are configured
	models   []byte             // GET /v1/models body
	modelIx  map[string][]byte  // GET /v1/models/{id} bodies
	cache    *cache.Cache       // nil when caching is off everywhere
	ownCache bool               // built by New, so closed by Close/Retire
	policies *cache.Policies    // cache policy per tenant and model
	srv      *fasthttp.Server
	metrics  metrics
	idPrefix []byte // "sy-<random hex>-": request IDs are this plus fasthttp's request ID
	closed   atomic.Bool
	// active counts requests in the handler plus streams still being
	// relayed, so a retired server releases its pools only when idle. Why
	// striped? Every request touches it twice; one shared word would bounce
	// between cores. A request uses the stripe of its connection.
	active [16]struct {
		n atomic.Int64
		_ [56]byte
	}
}

type tenant struct {
	name     string
	router   plugins.Router
	redactor plugins.Redactor
}

// New builds a server from a validated config. It owns everything it builds:
// Close releases it, and a failing New releases what it built.
func New(cfg *config.Config, opts Options) (*Server, error) {
	if opts.Build == nil {
		return nil, errors.New("router: Options.Build is required")
	}
	s := &Server{cfg: cfg, log: opts.Logger, plugins: opts.Plugins, tenants: map[string]*tenant{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	ups, err := upstream.NewSet(cfg.Upstreams, opts.Build)
	if err != nil {
		return nil, err
	}
	s.ups = ups
	if s.policies, err = cache.NewPolicies(cfg); err != nil {
		ups.Close()
		return nil, err
	}
	switch {
	case opts.Cache != nil:
		s.cache = opts.Cache
	case CachingUsed(cfg):
		if s.cache, err = cache.New(cfg.Cache); err != nil {
			ups.Close()
			return nil, err
		}
		s.ownCache = true
	}
	mk := func(name string, names []string) *tenant {
		t := &tenant{name: name}
		if s.plugins != nil {
			t.router, t.redactor = s.plugins.Router(names), s.plugins.Redactor(names)
		}
		return t
	}
	if len(cfg.Tenants) == 0 {
		s.deflt = mk("default", nil)
	}
	for _, tc := range cfg.Tenants {
		t := mk(tc.Name, tc.Plugins)
		for _, k := range tc.Keys {
			s.tenants[k] = t
		}
	}
	s.models, s.modelIx = modelsBodies(cfg)
	var rnd [4]byte
	crand.Read(rnd[:])
	s.idPrefix = fmt.Appendf(nil, "sy-%x-", rnd)
	s.srv = newHTTPServer(cfg, s.Handle, s.log)
	return s, nil
}

// newHTTPServer is the client-facing fasthttp server with cfg's limits.
func newHTTPServer(cfg *config.Config, h fasthttp.RequestHandler, log *slog.Logger) *fasthttp.Server {
	l := cfg.Limits
	return &fasthttp.Server{
		Handler:                       h,
		ErrorHandler:                  serverErrorHandler,
		Name:                          "switchyard",
		MaxRequestBodySize:            int(l.MaxBodyBytes),
		ReadBufferSize:                int(l.MaxHeaderBytes),
		ReadTimeout:                   l.ReadTimeout,
		WriteTimeout:                  l.WriteTimeout,
		IdleTimeout:                   l.IdleTimeout,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		CloseOnShutdown:               true,
		DisableHeaderNamesNormalizing: false,
		Logger:                        fasthttpLogger{log},
	}
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Close stops accepting, lets requests in flight finish (bounded by ctx), and
// releases upstream pools. Safe to call twice.
func (s *Server) Close(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := s.srv.ShutdownWithContext(ctx)
	s.release()
	return err
}

// Retire releases a server that no longer receives requests (it was swapped
// out by a reload): it waits until every request and stream it was serving
// has finished, bounded by ctx, then closes its upstream pools, adapters and
// (if it built it) its cache.
func (s *Server) Retire(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var err error
	for s.inFlight() > 0 && err == nil {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-tick.C:
		}
	}
	s.release()
	return err
}

func (s *Server) release() {
	s.ups.Close()
	if s.cache != nil && s.ownCache {
		s.cache.Close()
	}
}

// inFlight is the number of requests and streams the server is serving.
func (s *Server) inFlight() int64 {
	var n int64
	for i := range s.active {
		n += s.active[i].n.Load()
	}
	return n
}

// Upstreams exposes the upstream set (for metrics and tests).
func (s *Server) Upstreams() *upstream.Set { return s.ups }

var hdrRequestID = []byte("X-Request-Id")

// Handle is the fasthttp handler: it dispatches by path, then records.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	a := &s.active[ctx.ConnID()%uint64(len(s.active))].n
	a.Add(1)
	defer a.Add(-1)
	// x-request-id ties a client's report to the access log. fasthttp's
	// request ID is unique in the process; the random prefix tells processes
	// (and restarts) apart. No shared counter, no allocation.
	var id [32]byte
	ctx.Response.Header.SetCanonical(hdrRequestID, strconv.AppendUint(append(id[:0], s.idPrefix...), ctx.ID(), 16))
	if s.cfg.Log.Access {
		defer s.accessLog(ctx, time.Now())
	}
	s.dispatch(ctx)
}

// accessLog writes one line per request: what was asked of whom and how it
// went — never the body, a prompt, a completion or a key. For streams the
// duration is the time until the stream started.
func (s *Server) accessLog(ctx *fasthttp.RequestCtx, start time.Time) {
	h := &ctx.Response.Header
	s.log.Info("request", "id", string(ctx.Response.Header.PeekBytes(hdrRequestID)),
		"method", string(ctx.Method()), "path", string(ctx.Path()), "status", ctx.Response.StatusCode(),
		"upstream", string(h.Peek("x-switchyard-upstream")), "cache", string(h.Peek(hdrCache)),
		"duration", time.Since(start), "remote", ctx.RemoteIP().String())
}

func (s *Server) dispatch(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch string(path) {
	case "/v1/chat/completions":
		s.proxy(ctx, provider.ChatCompletions)
	case "/v1/completions":
		s.proxy(ctx, provider.Completions)
	case "/v1/embeddings":
		s.proxy(ctx, provider.Embeddings)
	case "/v1/responses":
		s.proxy(ctx, provider.Responses)
	case "/v1/models":
		if s.onlyGet(ctx) && s.identify(ctx) != nil {
			ctx.SetContentType("application/json")
			ctx.SetBody(s.models)
		}
	case "/healthz":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	case "/readyz":
		s.readyz(ctx)
	case "/metrics":
		s.metrics.write(ctx, s)
	default:
		if len(path) > len("/admin/") && string(path[:len("/admin/")]) == "/admin/" {
			s.admin(ctx)
			return
		}
		if len(path) > len("/v1/models/") && string(path[:len("/v1/models/")]) == "/v1/models/" {
			if s.onlyGet(ctx) && s.identify(ctx) != nil {
				s.model(ctx, path[len("/v1/models/"):])
			}
			return
		}
		writeError(ctx, 404, "Unknown request URL: "+string(ctx.Method())+" "+string(path)+".", "invalid_request_error", "", "unknown_url")
	}
}

func (s *Server) onlyGet(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	ctx.Response.Header.Set("Allow", "GET, HEAD")
	writeError(ctx, 405, "Method not allowed: use GET.", "invalid_request_error", "", "method_not_allowed")
	return false
}

// identify maps the client key to a tenant, or answers 401 and returns nil.
func (s *Server) identify(ctx *fasthttp.RequestCtx) *tenant {
	if s.deflt != nil {
		return s.deflt
	}
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const bearer = "Bearer "
	if len(auth) > len(bearer) && string(auth[:len(bearer)]) == bearer {
		if t := s.tenants[string(auth[len(bearer):])]; t != nil {
			return t
		}
	}
	writeError(ctx, 401, "Incorrect API key provided.", "invalid_request_error", "", "invalid_api_key")
	return nil
}

func (s *Server) model(ctx *fasthttp.RequestCtx, id []byte) {
	if b, ok := s.modelIx[string(id)]; ok {
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
		return
	}
	writeError(ctx, 404, "The model '"+string(id)+"' does not exist or you do not have access to it.", "invalid_request_error", "model", "model_not_found")
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	var problems []string
	healthy := 0
	for _, u := range s.ups.All {
		if err := u.Adapter.Ready(); err != nil {
			problems = append(problems, "upstream "+u.Name+": "+err.Error())
			continue
		}
		healthy++
	}
	if healthy == 0 {
		problems = append(problems, "no upstream can authenticate")
	}
	if s.plugins != nil {
		if err := s.plugins.Healthy(); err != nil {
			problems = append(problems, "plugins: "+err.Error())
		}
	}
	ctx.SetContentType("application/json")
	b := []byte(`{"status":`)
	if len(problems) == 0 && !s.closed.Load() {
		b = append(b, `"ready"}`...)
		ctx.SetBody(b)
		return
	}
	ctx.SetStatusCode(503)
	b = append(b, `"not_ready","problems":[`...)
	for i, p := range problems {
		if i > 0 {
			b = append(b, ',')
		}
		b = openai.AppendJSONString(b, []byte(p))
	}
	ctx.SetBody(append(b, "]}"...))
}

// modelsBodies renders the /v1/models list and one body per model.
func modelsBodies(cfg *config.Config) ([]byte, map[string][]byte) {
	owners := map[string]string{}
	for _, u := range cfg.Upstreams {
		for public := range u.Models {
			if _, ok := owners[public]; !ok {
				owners[public] = u.Provider
			}
		}
	}
	names := make([]string, 0, len(owners))
	for n := range owners {
		names = append(names, n)
	}
	sort.Strings(names)
	created := strconv.FormatInt(time.Now().Unix(), 10)
	ix := map[string][]byte{}
	list := []byte(`{"object":"list","data":[`)
	for i, n := range names {
		m := []byte(`{"id":`)
		m = openai.AppendJSONString(m, []byte(n))
		m = append(m, `,"object":"model","created":`...)
		m = append(m, created...)
		m = append(m, `,"owned_by":"switchyard"}`...)
		ix[n] = m
		if i > 0 {
			list = append(list, ',')
		}
		list = append(list, m...)
	}
	return append(list, "]}"...), ix
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	// fasthttp's messages carry connection errors, never request bodies.
	f.l.Debug("fasthttp", "msg", format)
}

// CachingUsed reports whether any policy (global, tenant or model) can cache,
// i.e. whether a response cache is worth building for cfg.
func CachingUsed(cfg *config.Config) bool {
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
