package router

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/limits"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/responses"
	"github.com/switchyard-dev/switchyard/router/telemetry"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// This file is the request's path, top to bottom (DESIGN §1): accept,
// identify, parse, redact, cache, route, forward, respond, record — one
// method per stage, over the pooled exchange. Answers are written by a
// responder (respond.go).

// exchange is one API call's state. It is pooled: every buffer is reused
// across requests, so the steady-state path allocates nothing. It has two
// possible owners — the handler, and a stream relay that outlives the handler
// — and is released by whichever lets go last (refs).
type exchange struct {
	g      *Generation
	ctx    *fasthttp.RequestCtx
	ep     provider.Endpoint
	t      *tenant
	stripe int
	start  time.Time
	// deadline ends the request: every upstream call and wait honours it.
	deadline time.Time
	refs     atomic.Int32

	body     []byte // the body as it goes upstream (redacted when a plugin rewrote it)
	scan     openai.Request
	redacted []byte // body after redaction plugins
	upBody   []byte // body for one attempt (model mapped, include_usage forced)
	out      []byte // translated answer
	cands    []int
	table    []plugins.Upstream
	view     plugins.Request
	ev       provider.Event
	wbuf     []byte
	call     provider.Call // the current attempt; here so it does not escape per request
	keyer    cache.Keyer
	fill     cacheFill
	vault    plugins.Vault
	chunks   chunkRestorer // restores streamed chunks (restore.go)
	restored []byte

	// The answer in hand after forward: the upstream that gave it and the
	// HTTP exchange it came on (owned here until the exchange is released).
	u    *upstream.Upstream
	req  *fasthttp.Request
	resp *fasthttp.Response
	t0   time.Time
	json jsonResponder
	// Responses over a chat upstream (router/responses): the translator, the
	// chat body (translated once per request), its scan, the translated answer.
	translated bool
	chatReady  bool
	tr         responses.Translator
	st         responses.Stream
	chat       []byte
	chatScan   *openai.Request // from scanPool while the request is translated
	resp2      []byte
	echo       []byte              // scratch for restoring a translated stream's echoes
	conv       responses.Converter // a Responses answer ⇄ its event stream, for the cache
	convBuf    []byte
	sse        *streamRelay
	hit        hitResponder

	// Accounting (ops.go, telemetry and limits): the managed key, the
	// limiter's reservation and decision, and what record reports.
	key       *limits.Key // nil: a config key, or no auth
	res       *limits.Reservation
	dec       limits.Decision
	ui        int // index of x.u in g.ups.All; -1 before an answer
	failedUp  int // index of the upstream of the last failed attempt; -1 none
	failedRes telemetry.Result
	attempts  int
	usage     telemetry.Usage
	ttft      time.Duration
	outcome   telemetry.Cache
	streaming bool // a stream relay took over: its Close records
	tctx      context.Context
	actx      context.Context // the current attempt's span context
	span      telemetry.Span

	// Ending early (gone.go): the request's context, the line its upstream
	// call runs on, the watcher's bookkeeping, and the shared stream.
	rctx         reqContext
	line         upstream.Line
	raw          syscall.RawConn
	lastWrite    atomic.Int64 // unix nanos of the last write to the client
	wnext, wprev *exchange
	watched      bool
	wseq         uint64
	startNano    int64                        // x.start, as lastWrite holds it before the first write
	nextPeek     int64                        // unix nanos; guarded by the watcher stripe's lock
	tail         flightTail                   // a coalesced stream waiter's reader of the leader's events
	lead         atomic.Pointer[cache.Flight] // the flight this request leads (read by the watcher)
	filling      atomic.Bool                  // the cache fill still wants the answer (read by the watcher)
}

var exchangePool = sync.Pool{New: func() any { return &exchange{} }}

// scanPool holds the scans only some requests need, out of the exchange:
// validating a JSON answer, and a translated request's chat body. Why not
// members? The exchange is held for a stream's whole life, and without
// them it fits the allocator's 3 KiB class instead of 4 KiB (issue 16:
// memory per stream).
var scanPool = sync.Pool{New: func() any { return new(openai.Request) }}

func (g *Generation) acquireExchange(ctx *fasthttp.RequestCtx, ep provider.Endpoint, t *tenant, stripe int) *exchange {
	x := exchangePool.Get().(*exchange)
	x.g, x.ctx, x.ep, x.t, x.stripe = g, ctx, ep, t, stripe
	// fasthttp stamps each request once; reading the clock again costs ~50 ns
	// per call on some VMs, a measurable share of a cache hit.
	x.start = ctx.Time()
	x.deadline = x.start.Add(g.cfg.Limits.RequestTimeout)
	x.refs.Store(1)
	x.ui, x.failedUp = -1, -1
	x.scan.Model = nil // a body refused before scanning must not report the last request's model
	x.tctx, x.actx = context.Background(), context.Background()
	x.rctx.reset(context.Background(), x.deadline)
	x.line.Reset()
	return x
}

// release drops one owner's hold; the last one ends the cache fill (waiters
// of a fill that never completed make their own calls), gives the upstream
// exchange back and returns x to the pool.
func (x *exchange) release() {
	if x.refs.Add(-1) != 0 {
		return
	}
	x.unwatch()
	x.finishFill(nil)
	x.dropAnswer()
	if cap(x.redacted) > 1<<20 || cap(x.upBody) > 1<<20 || cap(x.out) > 1<<20 {
		return // let the GC take outsized buffers
	}
	x.g, x.ctx, x.t, x.body, x.u = nil, nil, nil, nil, nil
	x.redacted, x.upBody, x.out, x.wbuf = x.redacted[:0], x.upBody[:0], x.out[:0], x.wbuf[:0]
	x.cands, x.table = x.cands[:0], x.table[:0]
	x.ev = provider.Event{}
	x.vault.Reset()
	x.restored = x.restored[:0]
	x.json, x.hit = jsonResponder{}, hitResponder{}
	x.translated, x.chatReady, x.chat, x.resp2 = false, false, x.chat[:0], x.resp2[:0]
	if x.chatScan != nil {
		scanPool.Put(x.chatScan)
		x.chatScan = nil
	}
	x.key, x.res, x.dec, x.attempts, x.usage, x.ttft, x.outcome, x.streaming = nil, nil, limits.Decision{}, 0, telemetry.Usage{}, 0, 0, false
	x.tctx, x.actx, x.span = nil, nil, telemetry.Span{}
	x.rctx.parent, x.tail = nil, flightTail{}
	exchangePool.Put(x)
}

// dropAnswer gives back the upstream request and response of the answer in hand.
func (x *exchange) dropAnswer() {
	if x.resp != nil {
		x.resp.CloseBodyStream()
		x.line.Finish(x.resp, false) // a body not read to its end: the connection is closed
		if x.req != nil {
			fasthttp.ReleaseRequest(x.req)
		}
		fasthttp.ReleaseResponse(x.resp)
		x.req, x.resp = nil, nil
	}
}

// api serves one OpenAI API call: the stages of DESIGN §1, in order. It
// starts with the PoP-wide bound (load.go): beyond it the request is answered
// 503 overloaded at once, before it costs a key lookup.
func (g *Generation) api(ctx *fasthttp.RequestCtx, ep provider.Endpoint, stripe int) {
	ld := &g.in.load
	if !ld.enter(g.cfg.Limits.MaxInFlight) {
		g.overloaded(ctx, telemetry.OverloadInFlight)
		return
	}
	defer ld.leave() // a stream's relay holds its own slot (beginStream)
	if !accept(ctx) {
		return
	}
	t, key := g.identify(ctx)
	if t == nil {
		return
	}
	if key != nil && !key.AllowsEndpoint(ctx.Path()) {
		writeError(ctx, errEndpointDenied)
		return
	}
	x := g.acquireExchange(ctx, ep, t, stripe)
	x.key = key
	defer x.finish()
	if !x.parse(ctx.PostBody()) || !x.streamRoom() {
		return
	}
	x.watch() // from here on, a client that leaves ends the request (gone.go)
	if !x.admit() || !x.redact() || x.gone() {
		return
	}
	r := x.cache()
	if r == nil {
		if !x.route() {
			return
		}
		if r = x.forward(); r == nil {
			return
		}
	}
	x.respond(r)
}

// streamRoom refuses a stream request while limits.max_streams streams are
// live (answered 503 overloaded), before it is charged to a rate limit or
// reaches a plugin or an upstream.
func (x *exchange) streamRoom() bool {
	if !x.scan.Stream || x.g.in.load.streamRoom(x.g.cfg.Limits.MaxStreams) {
		return true
	}
	x.g.overloaded(x.ctx, telemetry.OverloadStreams)
	return false
}

// accept refuses what is not an API call: the method and the content type.
func accept(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, errMethodPOST)
		return false
	}
	if !isJSON(ctx.Request.Header.ContentType()) {
		writeError(ctx, errMediaType)
		return false
	}
	return true
}

func isJSON(ct []byte) bool {
	const j = "application/json"
	if len(ct) < len(j) {
		return false
	}
	for i := 0; i < len(j); i++ {
		if ct[i]|0x20 != j[i] && ct[i] != j[i] {
			return false
		}
	}
	return len(ct) == len(j) || ct[len(j)] == ';' || ct[len(j)] == ' '
}

// identify maps the client key to a tenant — the config's keys first, then
// the managed keys (the key is returned too: it has its own limits and
// permissions) — or answers 401 and returns nil. Unknown, revoked and
// expired keys get the same answer. It runs before the body is parsed: an
// unauthenticated request costs a header lookup.
func (g *Generation) identify(ctx *fasthttp.RequestCtx) (*tenant, *limits.Key) {
	if g.deflt != nil {
		return g.deflt, nil
	}
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const bearer = "Bearer "
	if len(auth) > len(bearer) && string(auth[:len(bearer)]) == bearer {
		secret := auth[len(bearer):]
		if t := g.tenants[string(secret)]; t != nil {
			return t, nil
		}
		if ks := g.in.keys; ks != nil {
			if k, err := ks.Lookup(secret); err == nil {
				if t := g.byName[k.Tenant()]; t != nil {
					return t, k
				}
			}
		}
	}
	writeError(ctx, errBadKey)
	return nil, nil
}

// parse scans the body and checks what the endpoint requires, answering 400
// itself when the body is unusable.
func (x *exchange) parse(body []byte) bool {
	x.body = body
	if e := scanRequest(x.ep, body, &x.scan); e != nil {
		writeError(x.ctx, e)
		return false
	}
	if len(x.g.ups.Serving(x.scan.Model)) == 0 || (x.key != nil && !x.key.AllowsModel(x.scan.Model)) {
		writeError(x.ctx, errModelNotFound.With("The model '"+string(x.scan.Model)+"' does not exist or you do not have access to it.", ""))
		return false
	}
	if tel := x.g.in.tel; tel.Tracing() {
		x.tctx, x.span = tel.StartRequest(context.Background(), &x.ctx.Request.Header, endpointLabel[x.ep], x.t.name, string(x.scan.Model))
		x.actx = x.tctx
		x.rctx.parent = x.tctx
	}
	return true
}

// Output estimates for admission when the request sets no max_tokens: the
// default, and the bound on a client's own max_tokens (so one request cannot
// reserve a whole minute's tokens by asking for a million).
const (
	defaultOutputEstimate = 1024
	maxOutputEstimate     = 32768
)

// admit reserves the request's estimate against its tenant's and key's rate
// limits and budgets, or answers the refusal (429 with OpenAI's body and the
// x-ratelimit headers). Allowed answers carry the headers too. The estimate
// is prompt tokens ≈ body bytes / 4 and the answer's max_tokens (bounded),
// priced at the dearest upstream that serves the model.
func (x *exchange) admit() bool {
	lim := x.t.lim
	if lim == nil {
		return true
	}
	var out int64
	switch {
	case x.scan.HasMaxTokens:
		out = int64(min(max(x.scan.MaxTokens, 0), maxOutputEstimate))
	case x.ep != provider.Embeddings:
		out = defaultOutputEstimate
	}
	res, d := lim.Reserve(x.key, limits.Estimate{InputTokens: int64(len(x.body) / 4), OutputTokens: out,
		Price: x.g.dearest[string(x.scan.Model)]})
	x.dec = d
	h := &x.ctx.Response.Header
	x.dec.WriteHeaders(h)
	if !x.dec.Allowed() {
		x.ctx.SetStatusCode(x.dec.Status())
		x.ctx.SetContentType("application/json")
		x.wbuf = x.dec.AppendErrorBody(x.wbuf[:0])
		x.ctx.SetBody(x.wbuf)
		return false
	}
	x.res = res
	return true
}

// scanRequest scans body into r and returns the client error for a body the
// endpoint cannot take, or nil.
func scanRequest(ep provider.Endpoint, body []byte, r *openai.Request) *openai.APIError {
	if len(body) == 0 {
		return errEmptyBody
	}
	if err := openai.Scan(body, r); err != nil {
		var fe *openai.FieldError
		var de *openai.DuplicateError
		switch {
		case errors.As(err, &fe):
			return errInvalidType.With(fe.Message(), fe.Param)
		case errors.As(err, &de):
			return errDuplicate.With("We could not parse the JSON body of your request: the member "+strconv.Quote(de.Name)+
				" appears twice in one object. Send each member once.", de.Name)
		}
		return errInvalidJSON.With("We could not parse the JSON body of your request. ("+err.Error()+")", "")
	}
	if len(r.Model) == 0 {
		return errMissing.With("You must provide a model parameter.", "model")
	}
	switch ep {
	case provider.ChatCompletions:
		if r.Messages < 0 {
			return errMissing.With("Missing required parameter: 'messages'.", "messages")
		}
		if r.Messages == 0 {
			return errEmptyArray.With("Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages")
		}
	case provider.Completions:
		if !r.HasPrompt {
			return errMissing.With("Missing required parameter: 'prompt'.", "prompt")
		}
	case provider.Embeddings:
		if !r.HasInput {
			return errMissing.With("Missing required parameter: 'input'.", "input")
		}
		if r.Stream {
			return errInvalidValue.With("Embeddings cannot be streamed.", "stream")
		}
	}
	if r.HasN && (r.N < 1 || r.N > 128) {
		return errInvalidValue.With("Invalid 'n': expected an integer from 1 to 128.", "n")
	}
	return nil
}

// redact runs the tenant's redaction chain. Placeholders go to the exchange's
// vault; the rewritten body replaces the client's from here on. A body the
// plugin broke is the plugin's failure, never the client's.
func (x *exchange) redact() bool {
	if x.t.redactor == nil {
		return true
	}
	sp := x.g.in.tel.StartPlugin(x.tctx, x.t.redactName, "redact")
	t0 := time.Now()
	out, err := x.t.redactor.Redact(&x.rctx, x.body, x.redacted[:0], &x.vault)
	x.t.redactTel.Call(time.Since(t0), err != nil)
	sp.End(0, pluginErrType(err))
	if err != nil {
		pluginError(x.ctx, err)
		return false
	}
	if len(out) == 0 {
		return true // nothing matched
	}
	x.redacted = out
	if e := scanRequest(x.ep, out, &x.scan); e != nil {
		// The original, un-redacted body must not go upstream either.
		writeError(x.ctx, errPluginFailed.With("redaction plugin failed: it returned a body the router cannot forward ("+e.Message+")", ""))
		return false
	}
	x.body = out
	return true
}

// cache answers the request from the cache when it can and returns the
// responder that writes the stored answer (a hit or a coalesced wait), or
// plans the fill and returns nil. It runs after redaction, so keys and entries
// never hold PII, and before routing, so a hit costs no plugin call and no
// upstream.
func (x *exchange) cache() responder {
	g, r, ctx := x.g, &x.scan, x.ctx
	if g.cache == nil || (x.ep != provider.ChatCompletions && x.ep != provider.Responses) {
		return nil // the Responses API has its own key space: the endpoint is part of the key
	}
	params := cache.Params{Temperature: r.Temperature, HasTemperature: r.HasTemperature, TopP: r.TopP,
		HasTopP: r.HasTopP, HasSeed: r.HasSeed, N: r.N}
	control, maxAge, hasMaxAge := cache.ParseControl(ctx.Request.Header.Peek("Cache-Control"), ctx.Request.Header.Peek(hdrCache))
	if control == cache.NoStore || control == cache.Bypass || !g.policies.For(x.t.name, r.Model).Cacheable(&params) {
		ctx.Response.Header.Set(hdrCache, "bypass")
		x.outcome = telemetry.CacheBypass
		return nil
	}
	k, err := g.cache.Key(&x.keyer, x.t.name, x.ep.Suffix(), r.Model, x.body)
	if err != nil {
		ctx.Response.Header.Set(hdrCache, "bypass")
		x.outcome = telemetry.CacheBypass
		return nil
	}
	f := &x.fill
	*f = cacheFill{key: k, tenant: x.t.name}
	if control.Lookup() {
		if e, ok := g.cache.Get(x.t.name, k); ok {
			x.hit = hitResponder{entry: e, how: outcomeHit}
			x.outcome = telemetry.CacheHit
			return &x.hit
		}
		if control == cache.OnlyIfCached {
			x.outcome = telemetry.CacheMiss
			ctx.Response.Header.Set(hdrCache, "miss")
			writeError(ctx, errCacheMiss)
			return written{}
		}
		flight, leader := g.cache.Join(x.t.name, k)
		if leader {
			f.flight = flight
			x.lead.Store(flight)
		} else {
			if r.Stream && flight.WaitLive(&x.rctx) {
				if sr := x.follow(flight); sr != nil {
					return sr
				}
			}
			if e, ok := flight.Wait(&x.rctx); ok {
				x.hit = hitResponder{entry: e, how: outcomeCoalesced}
				x.outcome = telemetry.CacheCoalesced
				return &x.hit
			}
			if x.rctx.Err() != nil {
				return written{} // the client left (or the deadline passed) while waiting
			}
		}
		// The leader failed: make our own call (and store it if it works).
	}
	f.active = control.Store()
	x.filling.Store(f.active)
	if f.active {
		f.model = string(r.Model)
		f.ttl = g.cache.TTL(maxAge, hasMaxAge)
	}
	if control == cache.Refresh {
		ctx.Response.Header.Set(hdrCache, "refresh")
		x.outcome = telemetry.CacheBypass
	} else {
		ctx.Response.Header.Set(hdrCache, "miss")
		x.outcome = telemetry.CacheMiss
	}
	return nil
}

// route returns false (after answering 404) when no upstream can serve the
// request; otherwise x.cands holds the ordered candidates: the routing
// plugin's choice when it has one, filtered to upstreams that serve the model
// and endpoint, else the default order. It runs after the cache, so a hit
// costs no plugin call.
func (x *exchange) route() bool {
	g, r := x.g, &x.scan
	cands := x.cands[:0]
	if x.t.router != nil {
		x.table = g.table(x.table[:0])
		v := &x.view
		*v = plugins.Request{Model: r.Model, Tenant: x.t.name, Path: x.ep.Suffix(), PoP: g.cfg.PoP.Name,
			Region: g.cfg.PoP.Region, Stream: r.Stream, Deterministic: deterministic(r),
			PromptTokens: int32(len(x.body) / 4)}
		sp := g.in.tel.StartPlugin(x.tctx, x.t.routeName, "route")
		t0 := time.Now()
		chosen, err := x.t.router.Route(&x.rctx, v, x.table, cands)
		x.t.routeTel.Call(time.Since(t0), err != nil)
		sp.End(0, pluginErrType(err))
		if err != nil {
			var pe *plugins.Error
			if errors.As(err, &pe) { // fail-closed: the request is refused
				pluginError(x.ctx, err)
				return false
			}
			// A failure under on_error: open is "no opinion".
		}
		for _, i := range chosen {
			if i >= 0 && i < len(g.ups.All) && g.ups.Serves(i, r.Model) && g.serves(i, x.ep, r.Model) && !contains(cands, i) {
				cands = append(cands, i)
			}
		}
	}
	if len(cands) == 0 {
		for _, i := range g.ups.DefaultOrder(r.Model, cands) {
			if g.serves(i, x.ep, r.Model) {
				cands = append(cands, i)
			}
		}
	}
	x.cands = cands
	if len(cands) == 0 {
		writeError(x.ctx, errModelNotFound.With("No upstream serves '"+string(r.Model)+"' on "+x.ep.Suffix()+".", ""))
		return false
	}
	return true
}

// table fills the routing plugins' view of the upstreams.
func (g *Generation) table(dst []plugins.Upstream) []plugins.Upstream {
	now := time.Now().UnixNano()
	for _, u := range g.ups.All {
		inFlight, lat, ttfb, errRate := u.Stats.Live()
		dst = append(dst, plugins.Upstream{Name: u.Name, Provider: u.Adapter.Provider(), Region: u.Config.Region,
			Healthy: u.Healthy(now), LatencyUS: uint32(min(lat, 1<<32-1)), TTFBUS: uint32(min(ttfb, 1<<32-1)),
			InFlight: uint32(inFlight), ErrorRate: float32(errRate), PriceIn: float32(u.Config.Price.Input),
			PriceOut: float32(u.Config.Price.Output), Weight: uint32(max(u.Config.Weight, 0))})
	}
	return dst
}

// serves reports whether upstream i can take ep for the public model: the
// Responses API natively or translated, other endpoints as the adapter says.
func (g *Generation) serves(i int, ep provider.Endpoint, model []byte) bool {
	u := g.ups.All[i]
	if ep == provider.Responses {
		return u.Adapter.ResponsesMode(u.Config.Models[string(model)]) != provider.ResponsesUnsupported
	}
	return u.Adapter.Supports(ep)
}

func contains(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// deterministic is the default cacheability rule: temperature 0, top_p 0, or a seed.
func deterministic(r *openai.Request) bool {
	return (r.HasTemperature && r.Temperature == 0) || (r.HasTopP && r.TopP == 0) || r.HasSeed
}

// forward runs the attempt loop (router/upstream) over the candidates until
// one answers, and returns the responder for that answer; or it answers the
// client with the last failure and returns nil. Fallback is only possible
// before the first byte reached the client, which is the case for every
// attempt here: a stream's first event is read before anything is sent.
func (x *exchange) forward() responder {
	if err := x.g.ups.Forward(&x.rctx, x, x.cands, x.g.policy, x.deadline); err != nil {
		switch {
		case err.Code == upstream.CodeOverloaded:
			x.g.in.tel.Overload(telemetry.OverloadPool) // every pool was full: not an upstream failure
		case err != upstream.ErrClientGone:
			x.g.in.count.failed.Inc()
		}
		writeUpstreamError(x.ctx, err)
		return nil
	}
	if x.sse != nil {
		return x.sse
	}
	return &x.json
}

// Try makes one attempt on u (upstream.Attempt) and accounts for it: the
// attempt's metrics and span (its traceparent goes upstream), and the
// fallback from the previous attempt's upstream when there was one.
func (x *exchange) Try(u *upstream.Upstream) *provider.Error {
	g := x.g
	ui := g.upIndex(u)
	if x.failedUp >= 0 {
		x.t.handles(x.ep, x.scan.Model, x.failedUp).Fallback(x.failedRes)
	}
	x.attempts++
	var sp telemetry.Span
	if tel := g.in.tel; tel.Tracing() {
		x.actx, sp = tel.StartAttempt(x.tctx, endpointLabel[x.ep], u.Name, u.Config.Provider, u.Config.Models[string(x.scan.Model)], x.attempts)
	}
	t0 := time.Now()
	err := x.try(u)
	res, status := telemetry.ResultOK, fasthttp.StatusOK
	if err != nil {
		res, status = attemptResult(err), err.Status
		x.failedUp, x.failedRes = ui, res
	} else {
		x.ui = ui
	}
	x.t.handles(x.ep, x.scan.Model, ui).Attempt(res, time.Since(t0))
	sp.EndAttempt(status, res)
	return err
}

// attemptResult classifies a failed attempt for the metrics.
func attemptResult(e *provider.Error) telemetry.Result {
	switch e.Code {
	case "upstream_timeout":
		return telemetry.ResultTimeout
	case "upstream_unavailable":
		return telemetry.ResultConnection
	case upstream.CodeOverloaded:
		return telemetry.ResultOverloaded
	}
	return telemetry.ResultForStatus(e.Status)
}

// upIndex is u's index in g.ups.All (a handful of upstreams: a scan beats a map).
func (g *Generation) upIndex(u *upstream.Upstream) int {
	for i, v := range g.ups.All {
		if v == u {
			return i
		}
	}
	return -1
}

func pluginErrType(err error) string {
	if err != nil {
		return "plugin_failed"
	}
	return ""
}

// try makes one attempt on u. On success the answer is in hand: x.json holds
// a decoded JSON answer, or x.sse a stream whose first event has been read.
func (x *exchange) try(u *upstream.Upstream) *provider.Error {
	r := &x.scan
	call := &x.call
	model := u.Config.Models[string(r.Model)]
	x.translated = x.ep == provider.Responses && u.Adapter.ResponsesMode(model) == provider.ResponsesTranslated
	if x.translated {
		if err := x.translate(model); err != nil {
			return err
		}
	} else {
		wantUsage := r.Stream && x.ep != provider.Responses && !r.IncludeUsage
		*call = provider.Call{Endpoint: x.ep, Model: model, Stream: r.Stream}
		x.upBody = upstreamBody(x.upBody[:0], x.body, r, model, wantUsage)
		call.Body = x.upBody
	}
	x.dropAnswer()
	x.req, x.resp = fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	x.g.in.tel.Inject(x.actx, &x.req.Header)
	t0, err := u.Send(x.req, x.resp, call, x.deadline, &x.line)
	if err != nil {
		if err.Code == "upstream_config" {
			x.g.in.log.Error("prepare upstream request", "upstream", u.Name, "err", err.Err)
		}
		x.dropAnswer()
		return err
	}
	x.u, x.t0 = u, t0
	if !call.Stream {
		b := x.resp.Body()
		took := time.Since(t0) // a JSON answer arrives whole: first byte and end are one moment
		u.FirstByte(took)
		out, derr := u.Adapter.DecodeJSON(x.out[:0], call, b)
		if derr == nil && x.translated {
			out, derr = x.tr.AppendResponse(x.resp2[:0], out)
			if derr == nil {
				x.resp2 = out
			}
		}
		if derr == nil {
			// A 200 whose body is cut short or is not JSON is the upstream's
			// failure, never relayed as a success (issue 15).
			scratch := scanPool.Get().(*openai.Request)
			derr = openai.Scan(out, scratch)
			scanPool.Put(scratch)
		}
		if derr != nil {
			u.End(took, true)
			x.dropAnswer()
			return &provider.Error{Status: 502, Type: openai.TypeAPI, Code: "bad_upstream_response", Retryable: true, Err: derr,
				Message: "Upstream " + u.Name + " sent an answer that could not be translated."}
		}
		u.End(took, false)
		scanUsage(out, &x.usage)
		if !x.translated && len(out) > 0 && (len(b) == 0 || &out[0] != &b[0]) {
			x.out = out // a translation: keep its buffer for the next request
		}
		x.json = jsonResponder{x: x, answer: out}
		return nil
	}
	// Stream: read the first event before committing, so a cloud that fails
	// at once still lets us fall back. A translated stream keeps the usage
	// chunk: response.completed reports it.
	events := u.Adapter.Events(call, x.resp.BodyStream())
	stripUsage := !r.IncludeUsage && x.ep != provider.Responses
	first := x.nextEvent(events, stripUsage)
	if first != nil && first != io.EOF {
		if x.line.Cancelled() {
			u.Abandoned()
			x.dropAnswer()
			return upstream.ErrClientGone
		}
		u.End(time.Since(t0), true)
		x.dropAnswer()
		var pe *provider.Error
		var ae *openai.APIError
		if errors.As(first, &pe) || errors.As(first, &ae) {
			return streamError(first)
		}
		return upstream.TransportError(first)
	}
	u.FirstByte(time.Since(t0))
	x.sse = acquireRelay(x, events, first, stripUsage)
	// The request was sent whole: its copy of the body (an agent's prompt
	// can be hundreds of KB) goes back now, not when the stream ends.
	fasthttp.ReleaseRequest(x.req)
	x.req = nil
	if cap(x.upBody) > 64<<10 {
		x.upBody, x.call.Body = nil, nil // nor is a large attempt body kept for minutes
	}
	return nil
}

// translate prepares a Responses request for a chat-only upstream: the body is
// translated once per request (docs/responses.md), then, per attempt, its model
// is set to the upstream's. A request no chat upstream can express is a 400;
// one this upstream cannot is tried elsewhere.
func (x *exchange) translate(model string) *provider.Error {
	if err := x.translateOnce(); err != nil {
		return err
	}
	stream := x.tr.Stream()
	x.call = provider.Call{Endpoint: provider.ChatCompletions, Model: model, Stream: stream}
	x.upBody = upstreamBody(x.upBody[:0], x.chat, x.chatScan, model, false)
	x.call.Body = x.upBody
	return nil
}

// translateOnce translates the Responses request to a chat request, once per
// request: the translator then knows how to turn the chat answer back.
func (x *exchange) translateOnce() *provider.Error {
	if !x.chatReady {
		x.tr.Reset()
		opts := responses.Options{Optional: x.g.optionalTools | responses.ParseToolSet(x.ctx.Request.Header.Peek("x-switchyard-optional-tools"))}
		chat, err := x.tr.AppendChatRequest(x.chat[:0], x.body, opts)
		if err != nil {
			return translationError(err)
		}
		x.chat = chat
		if x.chatScan == nil {
			x.chatScan = scanPool.Get().(*openai.Request)
		}
		if err := openai.Scan(chat, x.chatScan); err != nil {
			return &provider.Error{Status: 500, Type: openai.TypeServer, Code: "translation_failed", Err: err,
				Message: "The Responses request could not be translated for a chat upstream."}
		}
		x.chatReady = true
	}
	return nil
}

// translationError turns a translator refusal into the attempt's failure:
// retryable (another upstream may serve it natively) or the client's 400.
func translationError(err error) *provider.Error {
	var re *responses.Error
	if !errors.As(err, &re) {
		return &provider.Error{Status: 400, Type: openai.TypeInvalidRequest, Code: "invalid_request", Err: err,
			Message: "The Responses request could not be translated: " + err.Error()}
	}
	return &provider.Error{Status: re.Status, Type: re.Type, Code: re.Code, Param: re.Param, Message: re.Message, Err: err,
		Retryable: errors.Is(err, responses.ErrUnsupported)}
}

// upstreamBody appends the body one attempt sends: "model" set to the
// upstream's id and, when addUsage, stream_options.include_usage forced on so
// the router always learns token usage. Edits are splices at the offsets the
// scanner recorded; the rest of the body is copied byte for byte.
func upstreamBody(dst, body []byte, r *openai.Request, model string, addUsage bool) []byte {
	type splice struct {
		at, skip int
		text     string
		quote    bool
	}
	var edits [2]splice
	n := 0
	edits[n] = splice{at: r.ModelStart, skip: r.ModelEnd - r.ModelStart, text: model, quote: true}
	n++
	if addUsage {
		switch {
		case r.StreamOptionsStart >= 0:
			inner := trimSpace(body[r.StreamOptionsStart+1 : r.StreamOptionsEnd-1])
			text := `,"include_usage":true`
			if len(inner) == 0 {
				text = `"include_usage":true`
			}
			edits[n] = splice{at: r.StreamOptionsEnd - 1, text: text}
		default:
			edits[n] = splice{at: r.End, text: `,"stream_options":{"include_usage":true}`}
		}
		n++
		if edits[1].at < edits[0].at {
			edits[0], edits[1] = edits[1], edits[0]
		}
	}
	pos := 0
	for _, e := range edits[:n] {
		dst = append(dst, body[pos:e.at]...)
		if e.quote {
			dst = openai.AppendJSONString(dst, []byte(e.text))
		} else {
			dst = append(dst, e.text...)
		}
		pos = e.at + e.skip
	}
	return append(dst, body[pos:]...)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// respond writes the answer with r, which owns restoring placeholders,
// filling the cache and recording the outcome.
func (x *exchange) respond(r responder) { r.respond(x) }

// complete counts an answer that reached the client completely.
func (x *exchange) complete() { x.g.in.count.served.Inc() }

// finish ends the handler's part: the request is recorded now, unless a
// stream relay took over (its Close records), and the exchange released.
func (x *exchange) finish() {
	if !x.streaming {
		x.record(x.ctx.Response.StatusCode())
	}
	x.release()
}

// record reports the finished request (DESIGN §1's last stage): its metrics,
// its span, and the limiter's settlement — the real usage at the serving
// upstream's price, or a Cancel for answers that used no upstream (a cache
// hit, a refusal, a failure).
func (x *exchange) record(status int) {
	u := &x.usage
	var price limits.Price
	if x.u != nil && x.ui >= 0 {
		p := x.u.Config.Price
		price = limits.Price{Input: p.Input, Output: p.Output}
		u.CostUSD = (float64(u.Input)*p.Input + float64(u.Output)*p.Output) / 1e6
	}
	ui := x.ui
	if x.outcome == telemetry.CacheHit || x.outcome == telemetry.CacheCoalesced {
		ui = -1
	}
	o := telemetry.Outcome{Status: status, Cache: x.outcome, Duration: time.Since(x.start), TTFT: x.ttft, Usage: *u}
	x.t.handles(x.ep, x.scan.Model, ui).Record(&o)
	if x.span.Recording() {
		if ui >= 0 {
			x.span.SetUpstream(x.u.Name, x.u.Config.Provider)
		}
		x.span.SetCache(x.outcome)
		x.span.SetUsage(*u)
		x.span.SetTTFT(x.ttft)
	}
	x.span.End(status, "")
	x.span = telemetry.Span{}
	if x.res != nil {
		if ui >= 0 && u.Input+u.Output > 0 {
			x.res.Settle(limits.Usage{InputTokens: u.Input, OutputTokens: u.Output, Price: price})
		} else {
			x.res.Cancel()
		}
		x.res = nil
	}
}

// Usage keys, as the clouds' chat (prompt/completion) and Responses
// (input/output) answers name them.
var (
	keyPromptTokens     = []byte(`"prompt_tokens"`)
	keyInputTokens      = []byte(`"input_tokens"`)
	keyCompletionTokens = []byte(`"completion_tokens"`)
	keyOutputTokens     = []byte(`"output_tokens"`)
	keyCachedTokens     = []byte(`"cached_tokens"`)
	keyReasoningTokens  = []byte(`"reasoning_tokens"`)
)

// scanUsage reads the last "usage" object of data (a JSON answer, a usage
// chunk, a response.completed event) into u and reports whether it found
// token counts. Why not the JSON lexer? Only four integers are wanted, from
// an object the answer ends with; a search over those bytes allocates
// nothing and never walks the content.
func scanUsage(data []byte, u *telemetry.Usage) bool {
	i := bytes.LastIndex(data, usageObject)
	if i < 0 {
		return false
	}
	obj := data[i+len(usageObject)-1:]
	depth := 0
	for j, c := range obj {
		if c == '{' {
			depth++
		} else if c == '}' {
			if depth--; depth == 0 {
				obj = obj[:j+1]
				break
			}
		}
	}
	in := intAfter(obj, keyPromptTokens, keyInputTokens)
	out := intAfter(obj, keyCompletionTokens, keyOutputTokens)
	if in < 0 && out < 0 {
		return false
	}
	u.Input, u.Output = max(in, 0), max(out, 0)
	u.Cached, u.Reasoning = max(intAfter(obj, keyCachedTokens, nil), 0), max(intAfter(obj, keyReasoningTokens, nil), 0)
	return true
}

// intAfter returns the integer value of key (or, when absent, of alt) in
// obj, or -1.
func intAfter(obj, key, alt []byte) int64 {
	i := bytes.Index(obj, key)
	if i < 0 {
		if alt == nil {
			return -1
		}
		if i = bytes.Index(obj, alt); i < 0 {
			return -1
		}
		key = alt
	}
	j := i + len(key)
	for j < len(obj) && (obj[j] == ' ' || obj[j] == ':' || obj[j] == '\n' || obj[j] == '\t' || obj[j] == '\r') {
		j++
	}
	var n int64
	start := j
	for j < len(obj) && obj[j] >= '0' && obj[j] <= '9' && j-start < 18 {
		n = n*10 + int64(obj[j]-'0')
		j++
	}
	if j == start {
		return -1
	}
	return n
}
