package router

import (
	"context"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// hdrCache reports what the cache did: hit, miss, bypass, coalesced or refresh.
const hdrCache = "x-switchyard-cache"

// Canonical header names and values, set with SetCanonical so fasthttp does
// not normalise them on every hit.
var (
	hdrCacheCanon = []byte("X-Switchyard-Cache")
	hdrAge        = []byte("Age")
	hdrCacheCtl   = []byte("Cache-Control")
	noCache       = []byte("no-cache")
	cacheOutcome  = map[string][]byte{"hit": []byte("hit"), "coalesced": []byte("coalesced")}
)

// cacheFill is a cacheable miss's plan to store its answer. It lives in the
// exchange; the zero value stores nothing.
type cacheFill struct {
	active bool // store the answer when it is a complete 200
	key    cache.Key
	tenant string
	model  string
	ttl    time.Duration
	flight *cache.Flight // set when this request leads a coalesced flight
	asm    *cache.Assembler
}

// cacheStage answers the request from the cache when it can (hit, coalesced,
// or only-if-cached miss) and returns true; otherwise it plans the fill and
// returns false. It runs after redaction, so keys and entries never hold PII,
// and before routing, so a hit costs no plugin call and no upstream.
func (s *Server) cacheStage(ctx *fasthttp.RequestCtx, t *tenant, ep provider.Endpoint, body []byte, x *exchange, deadline time.Time) bool {
	if s.cache == nil || ep != provider.ChatCompletions {
		return false
	}
	r := &x.scan
	params := cache.Params{Temperature: r.Temperature, HasTemperature: r.HasTemperature, TopP: r.TopP,
		HasTopP: r.HasTopP, HasSeed: r.HasSeed, N: r.N}
	control, maxAge, hasMaxAge := cache.ParseControl(ctx.Request.Header.Peek("Cache-Control"), ctx.Request.Header.Peek(hdrCache))
	if control == cache.NoStore || control == cache.Bypass || !s.policies.For(t.name, r.Model).Cacheable(&params) {
		ctx.Response.Header.Set(hdrCache, "bypass")
		return false
	}
	k, err := s.cache.Key(&x.keyer, t.name, ep.Suffix(), r.Model, body)
	if err != nil {
		ctx.Response.Header.Set(hdrCache, "bypass")
		return false
	}
	f := &x.fill
	*f = cacheFill{key: k, tenant: t.name}
	if control.Lookup() {
		if e, ok := s.cache.Get(t.name, k); ok {
			s.serveEntry(ctx, x, e, "hit")
			return true
		}
		if control == cache.OnlyIfCached {
			ctx.Response.Header.Set(hdrCache, "miss")
			writeError(ctx, 504, "The answer is not in the cache (only-if-cached).", "invalid_request_error", "", "cache_miss")
			return true
		}
		flight, leader := s.cache.Join(t.name, k)
		if leader {
			f.flight = flight
		} else {
			wctx, cancel := context.WithDeadline(context.Background(), deadline)
			e, ok := flight.Wait(wctx)
			cancel()
			if ok {
				s.serveEntry(ctx, x, e, "coalesced")
				return true
			}
			// The leader failed: make our own call (and store it if it works).
		}
	}
	f.active = control.Store()
	if f.active {
		f.model = string(r.Model)
		f.ttl = s.cache.TTL(maxAge, hasMaxAge)
	}
	if control == cache.Refresh {
		ctx.Response.Header.Set(hdrCache, "refresh")
	} else {
		ctx.Response.Header.Set(hdrCache, "miss")
	}
	return false
}

// serveEntry writes a stored answer in the client's own mode, with the
// client's own placeholders restored. Without redaction the stored bytes are
// written as they are: no copy, no allocation.
func (s *Server) serveEntry(ctx *fasthttp.RequestCtx, x *exchange, e *cache.Entry, how string) {
	h := &ctx.Response.Header
	h.SetCanonical(hdrCacheCanon, cacheOutcome[how])
	if how == "hit" {
		var buf [20]byte
		h.SetCanonical(hdrAge, strconv.AppendInt(buf[:0], int64(e.Age(ctx.Time())/time.Second), 10))
	}
	body := e.JSON
	if x.scan.Stream {
		body = e.SSEBody(x.scan.IncludeUsage)
		ctx.SetContentType("text/event-stream")
		h.SetCanonical(hdrCacheCtl, noCache)
	} else {
		ctx.SetContentType("application/json")
	}
	if x.vault.Len() > 0 {
		x.restored = x.vault.Restore(x.restored[:0], body)
		ctx.SetBody(x.restored)
	} else {
		ctx.Response.SetBodyRaw(body)
	}
	s.metrics.served.Add(1)
}

// fillJSON stores a complete non-streamed answer (before placeholders are
// restored: entries are shared by every client of the tenant).
func (s *Server) fillJSON(x *exchange, answer []byte) {
	f := &x.fill
	var e *cache.Entry
	if f.active {
		if built, err := cache.NewEntryFromJSON(answer); err == nil && s.cache.Set(f.tenant, f.model, f.key, built, f.ttl) {
			e = built
		}
	}
	s.finishFill(x, e)
}

// feedStream gives one streamed event to the assembler of a cacheable miss.
func (x *exchange) feedStream(data []byte) {
	f := &x.fill
	if !f.active {
		return
	}
	if f.asm == nil {
		f.asm = new(cache.Assembler)
	}
	if f.asm.Add(data) != nil {
		f.active = false // not a chat.completion stream we can store
	}
}

var doneSentinel = []byte("[DONE]")

// fillStream stores a stream that ended cleanly ([DONE] seen); any other end
// stores nothing.
func (s *Server) fillStream(x *exchange, complete bool) {
	f := &x.fill
	var e *cache.Entry
	if f.active && complete && f.asm != nil && f.asm.Add(doneSentinel) == nil {
		if built, err := f.asm.Entry(); err == nil && s.cache.Set(f.tenant, f.model, f.key, built, f.ttl) {
			e = built
		}
	}
	s.finishFill(x, e)
}

// finishFill ends this request's part in the cache: it releases coalesced
// waiters (with the entry, or nil so that each makes its own call).
func (s *Server) finishFill(x *exchange, e *cache.Entry) {
	if x.fill.flight != nil {
		x.fill.flight.Done(e)
	}
	x.fill = cacheFill{}
}
