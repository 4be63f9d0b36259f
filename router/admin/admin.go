// Package admin serves Switchyard's admin API and dashboard on their own
// listener (admin.listen), never on the client-facing one.
//
// The package imports nothing from the router: the core hands it plain
// snapshots through Source, key management through KeyStore (implemented by
// router/limits) and a Reload func. Every /admin/ call needs
// "Authorization: Bearer <token>"; the dashboard's static files carry no
// data and are served without it (the page asks for the token, or takes it
// from the URL fragment #token=…, which browsers never send to a server).
package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Sentinel errors. A KeyStore (or Source.PurgeCache) returns ErrNotFound
// and ErrInvalid, wrapped with details a caller may read, to get 404 and
// 400 answers; any other error is a 500 with a generic message.
var (
	ErrNotFound = errors.New("admin: not found")
	ErrInvalid  = errors.New("admin: invalid request")
	// ErrNoToken: admin.listen is set but admin.token is empty.
	ErrNoToken = errors.New("admin: a token is required (admin.token)")
	// ErrNoListen: New was called without admin.listen.
	ErrNoListen = errors.New("admin: no listen address (admin.listen)")
	// ErrCacheOff is returned by Source.PurgeCache when there is no cache.
	ErrCacheOff = errors.New("admin: caching is off")
)

// Config configures the admin listener. The zero value is off.
type Config struct {
	// Listen is the admin listener's address, e.g. "127.0.0.1:9090".
	// Empty = no admin API and no dashboard. It must differ from the
	// client-facing listen address (router/config checks that).
	Listen string
	// Token is the bearer token every /admin/ call must carry. Required
	// when Listen is set. A secret: masked in the config dump.
	Token string
	// SampleInterval is how often the dashboard's traffic is sampled.
	// Default 2s.
	SampleInterval time.Duration
	// History is how many samples are kept (the charts' width). Default
	// 150 (five minutes at 2s).
	History int
}

// Options are what the core wires in.
type Options struct {
	// Source is the instance's live state; required.
	Source Source
	// Keys manages tenants' keys; nil answers the key endpoints with 501.
	Keys KeyStore
	// Reload rebuilds the running config the way SIGHUP does; nil answers
	// POST /admin/reload with 501. Its error (a config that does not
	// validate) is shown to the admin caller.
	Reload func(context.Context) error
	// Metrics, when set, is served at GET /metrics on the admin listener
	// (telemetry.Telemetry's MetricsHandler), without the token like the
	// client listener's /metrics: labels hold config names only. It lets
	// Prometheus scrape a PoP whose client listener is public.
	Metrics fasthttp.RequestHandler
	// Logger receives admin actions (purge, reload, key changes) — never
	// a token or a key. nil = slog.Default().
	Logger *slog.Logger
}

// Server is a running admin listener. Safe for concurrent use.
type Server struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	tokenSum [sha256.Size]byte
	ln       net.Listener
	srv      *fasthttp.Server
	sampler  *sampler
	served   chan struct{}
	closed   atomic.Bool
}

// New validates cfg, listens on cfg.Listen, and serves the admin API and the
// dashboard until Close. It samples traffic in the background from the
// start, so the dashboard has history when first opened.
func New(cfg Config, opts Options) (*Server, error) {
	if cfg.Listen == "" {
		return nil, ErrNoListen
	}
	if cfg.Token == "" {
		return nil, ErrNoToken
	}
	if opts.Source == nil {
		return nil, errors.New("admin: Options.Source is required")
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = 2 * time.Second
	}
	if cfg.History <= 1 {
		cfg.History = 150
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.Logger, tokenSum: sumToken(cfg.Token), ln: ln, served: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		ErrorHandler:          serverError,
		Name:                  "switchyard-admin",
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		MaxRequestBodySize:    1 << 20,
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{s.log},
	}
	s.sampler = startSampler(opts.Source, cfg.SampleInterval, cfg.History)
	go func() {
		defer close(s.served)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// fasthttpLogger sends fasthttp's connection errors to the debug log. Only
// the format is logged: fasthttp's arguments can quote the raw request
// header, which holds the admin token.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, _ ...any) {
	f.l.Debug("admin: fasthttp", "msg", format)
}

func sumToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// serverError answers what fasthttp refuses before the handler runs (a body
// over 1 MiB, a malformed request) with an OpenAI-style body.
func serverError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(ctx, 413, "The request body is larger than the admin API accepts (1 MiB).", "invalid_request_error", "request_too_large")
		return
	}
	writeError(ctx, 400, "The request could not be parsed.", "invalid_request_error", "bad_request")
}

// Addr is the address the admin listener is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the listener and the sampler, letting calls in flight finish
// (bounded by ctx). Safe to call twice.
func (s *Server) Close(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.sampler.stop()
	err := s.srv.ShutdownWithContext(ctx)
	<-s.served
	return err
}
