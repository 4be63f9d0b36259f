package router

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Live serves one listener with a Server that a config reload replaces
// (DESIGN §6: build new, swap atomically, retire old). Requests already
// inside the old Server — streams included — finish on it; new requests go
// to the new one from the moment of the swap. Safe for concurrent use.
//
// The listener-level limits (body and header size, read/write/idle timeouts)
// are the first config's: they belong to connections that outlive a reload,
// so changing them takes a restart (Swap says so in the log).
type Live struct {
	cur   atomic.Pointer[Server]
	first *Server
	srv   *fasthttp.Server
	log   *slog.Logger
}

// NewLive serves first until a Swap.
func NewLive(first *Server) *Live {
	l := &Live{first: first, log: first.log}
	l.cur.Store(first)
	l.srv = newHTTPServer(first.cfg, l.handle, first.log)
	return l
}

func (l *Live) handle(ctx *fasthttp.RequestCtx) { l.cur.Load().Handle(ctx) }

// Serve accepts connections on ln until Close.
func (l *Live) Serve(ln net.Listener) error { return l.srv.Serve(ln) }

// Current is the Server new requests go to.
func (l *Live) Current() *Server { return l.cur.Load() }

// Swap sends new requests to next and retires the previous Server in the
// background once what it serves has finished (at most grace; then its pools
// are closed anyway).
func (l *Live) Swap(next *Server, grace time.Duration) {
	if next.cfg.Limits != l.first.cfg.Limits {
		l.log.Warn("reload: limits (body, header, timeouts) take effect at the next restart")
	}
	old := l.cur.Swap(next)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := old.Retire(ctx); err != nil {
			l.log.Warn("reload: the previous config's requests outlived the grace period", "grace", grace)
		}
	}()
}

// Close stops accepting, lets requests in flight finish (bounded by ctx) and
// releases the current Server.
func (l *Live) Close(ctx context.Context) error {
	err := l.srv.ShutdownWithContext(ctx)
	if rerr := l.cur.Load().Retire(ctx); err == nil {
		err = rerr
	}
	return err
}
