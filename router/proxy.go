package router

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// exchange is the per-request scratch state. It is pooled: every buffer is
// reused across requests, so the steady-state path allocates nothing. It is
// owned by one request at a time and released when the response is complete
// (after the stream for streamed answers).
type exchange struct {
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
	restorer plugins.StreamRestorer
	restored []byte
}

var exchangePool = sync.Pool{New: func() any { return &exchange{} }}

func acquireExchange() *exchange { return exchangePool.Get().(*exchange) }

func releaseExchange(x *exchange) {
	if cap(x.redacted) > 1<<20 || cap(x.upBody) > 1<<20 || cap(x.out) > 1<<20 {
		return // let the GC take outsized buffers
	}
	x.redacted, x.upBody, x.out, x.wbuf = x.redacted[:0], x.upBody[:0], x.out[:0], x.wbuf[:0]
	x.cands, x.table = x.cands[:0], x.table[:0]
	x.ev = provider.Event{}
	x.vault.Reset()
	x.restored = x.restored[:0]
	x.fill = cacheFill{}
	exchangePool.Put(x)
}

// proxy serves one OpenAI API call: the stages of DESIGN §1 in order.
func (s *Server) proxy(ctx *fasthttp.RequestCtx, ep provider.Endpoint) {
	// fasthttp stamps each request once; reading the clock again costs ~50 ns
	// per call on some VMs, a measurable share of a cache hit.
	start := ctx.Time()
	// accept
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, 405, "Method not allowed: use POST.", "invalid_request_error", "", "method_not_allowed")
		return
	}
	if !isJSON(ctx.Request.Header.ContentType()) {
		writeError(ctx, 415, "Unsupported content type: send the body as application/json.", "invalid_request_error", "", "unsupported_media_type")
		return
	}
	// identify
	t := s.identify(ctx)
	if t == nil {
		return
	}
	x := acquireExchange()
	release := true
	defer func() {
		if release {
			releaseExchange(x)
		}
	}()
	// parse
	body := ctx.PostBody()
	if !s.parse(ctx, ep, body, &x.scan) {
		return
	}
	serving := s.ups.Serving(x.scan.Model)
	if len(serving) == 0 {
		writeError(ctx, 404, "The model '"+string(x.scan.Model)+"' does not exist or you do not have access to it.", "invalid_request_error", "model", "model_not_found")
		return
	}
	// redact
	if hasPlugins(t.redactor) {
		out, err := t.redactor.Redact(ctx, body, x.redacted[:0], &x.vault)
		if err != nil {
			s.pluginError(ctx, err)
			return
		}
		if len(out) > 0 {
			x.redacted = out
			body = out
			if !s.parse(ctx, ep, body, &x.scan) { // offsets moved; a plugin that broke the JSON is a plugin error
				return
			}
		}
	}
	// cache
	deadline := start.Add(s.cfg.Limits.RequestTimeout)
	if s.cacheStage(ctx, t, ep, body, x, deadline) {
		return
	}
	defer func() {
		if release { // not handed to a stream: the fill (if any) ends here
			s.finishFill(x, nil)
		}
	}()
	// route
	x.cands = s.route(ctx, t, ep, x)
	if len(x.cands) == 0 {
		writeError(ctx, 404, "No upstream serves '"+string(x.scan.Model)+"' on "+ep.Suffix()+".", "invalid_request_error", "model", "model_not_found")
		return
	}
	// forward, respond
	release = !s.forward(ctx, ep, body, x, start, deadline)
}

// parse scans the body and checks what the endpoint requires, answering 400
// itself when the body is unusable.
func (s *Server) parse(ctx *fasthttp.RequestCtx, ep provider.Endpoint, body []byte, r *openai.Request) bool {
	if len(body) == 0 {
		writeError(ctx, 400, "We could not parse the JSON body of your request: the body is empty.", "invalid_request_error", "", "invalid_json")
		return false
	}
	if err := openai.Scan(body, r); err != nil {
		var fe *openai.FieldError
		if errors.As(err, &fe) {
			writeError(ctx, 400, fe.Message(), "invalid_request_error", fe.Param, "invalid_type")
			return false
		}
		writeError(ctx, 400, "We could not parse the JSON body of your request. ("+err.Error()+")", "invalid_request_error", "", "invalid_json")
		return false
	}
	if len(r.Model) == 0 {
		writeError(ctx, 400, "You must provide a model parameter.", "invalid_request_error", "model", "missing_required_parameter")
		return false
	}
	switch ep {
	case provider.ChatCompletions:
		if r.Messages < 0 {
			writeError(ctx, 400, "Missing required parameter: 'messages'.", "invalid_request_error", "messages", "missing_required_parameter")
			return false
		}
		if r.Messages == 0 {
			writeError(ctx, 400, "Invalid 'messages': empty array. Expected an array with minimum length 1.", "invalid_request_error", "messages", "empty_array")
			return false
		}
	case provider.Completions:
		if !r.HasPrompt {
			writeError(ctx, 400, "Missing required parameter: 'prompt'.", "invalid_request_error", "prompt", "missing_required_parameter")
			return false
		}
	case provider.Embeddings:
		if !r.HasInput {
			writeError(ctx, 400, "Missing required parameter: 'input'.", "invalid_request_error", "input", "missing_required_parameter")
			return false
		}
		if r.Stream {
			writeError(ctx, 400, "Embeddings cannot be streamed.", "invalid_request_error", "stream", "invalid_value")
			return false
		}
	}
	if r.HasN && (r.N < 1 || r.N > 128) {
		writeError(ctx, 400, "Invalid 'n': expected an integer from 1 to 128.", "invalid_request_error", "n", "invalid_value")
		return false
	}
	return true
}

func (s *Server) pluginError(ctx *fasthttp.RequestCtx, err error) {
	var pe *plugins.Error
	if errors.As(err, &pe) {
		writeError(ctx, pe.Status, pe.Message, "api_error", "", pe.Code)
		return
	}
	writeError(ctx, 503, "A plugin failed: "+err.Error(), "api_error", "", "plugin_failed")
}

// route returns the ordered candidates: the routing plugin's choice when it
// has one, filtered to upstreams that serve the model and endpoint, else the
// default order.
func (s *Server) route(ctx *fasthttp.RequestCtx, t *tenant, ep provider.Endpoint, x *exchange) []int {
	cands := x.cands[:0]
	if hasPlugins(t.router) {
		x.table = s.ups.Table(x.table[:0])
		v := &x.view
		*v = plugins.Request{Model: x.scan.Model, Tenant: t.name, Path: ep.Suffix(), PoP: s.cfg.PoP.Name,
			Region: s.cfg.PoP.Region, Stream: x.scan.Stream, Deterministic: deterministic(&x.scan),
			PromptTokens: int32(len(ctx.PostBody()) / 4)}
		chosen, err := t.router.Route(ctx, v, x.table, cands)
		if err == nil {
			for _, i := range chosen {
				if i >= 0 && i < len(s.ups.All) && servesModel(s.ups, i, x.scan.Model) && s.ups.All[i].Adapter.Supports(ep) && !contains(cands, i) {
					cands = append(cands, i)
				}
			}
		}
		// A routing error under on_error: open is already "no opinion" here.
	}
	if len(cands) == 0 {
		for _, i := range s.ups.DefaultOrder(x.scan.Model, cands) {
			if s.ups.All[i].Adapter.Supports(ep) {
				cands = append(cands, i)
			}
		}
	}
	return cands
}

func servesModel(set *upstream.Set, i int, model []byte) bool {
	_, ok := set.All[i].Config.Models[string(model)]
	return ok
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

// forward runs the attempt loop: each candidate in order until one answers.
// Fallback is only possible before the first byte reached the client. It
// returns true when it handed x to a stream writer that releases it.
func (s *Server) forward(ctx *fasthttp.RequestCtx, ep provider.Endpoint, body []byte, x *exchange, start, deadline time.Time) bool {
	lim := s.cfg.Limits
	r := &x.scan
	wantUsage := r.Stream && ep != provider.Responses && !r.IncludeUsage
	var last *provider.Error
	attempts := 0
	for ci := 0; ci < len(x.cands) && attempts < lim.MaxAttempts; ci++ {
		u := s.ups.All[x.cands[ci]]
		if wait := time.Until(u.CoolUntil()); wait > 0 {
			// The cloud asked us to wait. Prefer another candidate; wait only
			// when this is the last one and the wait fits the limits.
			if ci+1 < len(x.cands) || wait > lim.MaxRetryAfter || time.Now().Add(wait).After(deadline) {
				if last == nil {
					last = &provider.Error{Status: 429, Type: "rate_limit_error", Code: "rate_limit_exceeded",
						Message: "Upstream " + u.Name + " asked to retry later.", Retryable: true, RetryAfter: wait}
				}
				continue
			}
			time.Sleep(wait)
		}
		attempts++
		call := &x.call
		*call = provider.Call{Endpoint: ep, Model: u.Config.Models[string(r.Model)], Stream: r.Stream}
		x.upBody = upstreamBody(x.upBody[:0], body, r, call.Model, wantUsage)
		call.Body = x.upBody
		done, err := s.attempt(ctx, u, call, x, deadline, start)
		if done {
			return err == nil && r.Stream
		}
		last = err
		if !err.Retryable {
			break
		}
		if ci+1 == len(x.cands) && attempts < lim.MaxAttempts && err.RetryAfter > 0 && err.RetryAfter <= lim.MaxRetryAfter &&
			time.Now().Add(err.RetryAfter).Before(deadline) {
			// The only (or last) candidate asked for a short wait: honour it and try again.
			time.Sleep(err.RetryAfter)
			ci--
		}
	}
	if last == nil {
		last = &provider.Error{Status: 502, Type: "api_error", Code: "upstream_unavailable", Message: "No upstream could serve the request."}
	}
	s.metrics.failed.Add(1)
	writeUpstreamError(ctx, last)
	return false
}

// attempt makes one upstream call. It returns done=true when the client has
// its answer (success, or a final error already written); otherwise the error
// says whether the next candidate may be tried.
func (s *Server) attempt(ctx *fasthttp.RequestCtx, u *upstream.Upstream, call *provider.Call, x *exchange, deadline time.Time, start time.Time) (bool, *provider.Error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	streaming := false
	defer func() {
		if !streaming {
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		}
	}()
	if err := u.Adapter.Prepare(req, call); err != nil {
		if errors.Is(err, provider.ErrInvalidRequest) {
			// This cloud cannot take the request; another candidate may.
			return false, &provider.Error{Status: 400, Type: "invalid_request_error", Code: "unsupported_by_upstream",
				Message: "Upstream " + u.Name + " cannot serve this request: " + err.Error(), Retryable: true}
		}
		s.log.Error("prepare upstream request", "upstream", u.Name, "err", err)
		return false, &provider.Error{Status: 502, Type: "api_error", Code: "upstream_config", Message: "Upstream " + u.Name + " could not be addressed.", Retryable: true}
	}
	// Streams are read incrementally; JSON answers are read whole into the
	// response's pooled buffer (no per-request reader objects).
	resp.StreamBody = call.Stream
	t0 := time.Now()
	u.Begin()
	if err := u.Client.DoDeadline(req, resp, deadline); err != nil {
		u.End(time.Since(t0), true)
		return false, transportError(err)
	}
	status := resp.StatusCode()
	if status < 200 || status > 299 {
		errBody := resp.Body()
		if call.Stream {
			errBody, _ = readAtMost(resp.BodyStream(), 64<<10)
		}
		e := u.Adapter.Error(status, &resp.Header, errBody)
		u.End(time.Since(t0), e.Retryable)
		u.CoolFor(e.RetryAfter)
		if !e.Retryable {
			writeUpstreamError(ctx, e)
			return true, e
		}
		return false, e
	}
	if !call.Stream {
		b := resp.Body()
		took := time.Since(t0) // a JSON answer arrives whole: first byte and end are one moment
		u.FirstByte(took)
		out, err := u.Adapter.DecodeJSON(x.out[:0], call, b)
		if err != nil {
			u.End(took, true)
			return false, &provider.Error{Status: 502, Type: "api_error", Code: "bad_upstream_response", Message: "Upstream " + u.Name + " sent an answer that could not be translated.", Retryable: true}
		}
		u.End(took, false)
		if x.fill.active || x.fill.flight != nil {
			s.fillJSON(x, out)
		}
		if x.vault.Len() > 0 {
			out = x.vault.Restore(x.restored[:0], out)
			x.restored = out
		}
		setServedBy(ctx, u)
		ctx.SetContentType("application/json")
		ctx.SetBody(out)
		if len(out) > 0 && (len(b) == 0 || &out[0] != &b[0]) {
			x.out = out // a translation: keep its buffer for the next request
		}
		s.metrics.served.Add(1)
		return true, nil
	}
	// Stream: read the first event before committing, so a cloud that fails
	// at once still lets us fall back.
	events := u.Adapter.Events(call, resp.BodyStream())
	first := x.nextEvent(events, !x.scan.IncludeUsage && call.Endpoint != provider.Responses)
	err := first
	if err != nil && err != io.EOF {
		u.End(time.Since(t0), true)
		resp.CloseBodyStream()
		var pe *provider.Error
		if errors.As(err, &pe) {
			return false, pe
		}
		return false, transportError(err)
	}
	u.FirstByte(time.Since(t0))
	streaming = true
	setServedBy(ctx, u)
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	rl := relayPool.Get().(*streamRelay)
	*rl = streamRelay{s: s, u: u, req: req, resp: resp, x: x, events: events, next: first, t0: t0,
		ep: call.Endpoint, stripUsage: !x.scan.IncludeUsage && call.Endpoint != provider.Responses,
		active: &s.active[ctx.ConnID()%uint64(len(s.active))].n}
	rl.active.Add(1) // the stream outlives the handler; Close ends it
	if x.vault.Len() > 0 {
		rl.restore = true
		x.restorer.Reset(&x.vault)
	}
	ctx.Response.SetBodyStream(rl, -1)
	return true, nil
}

// streamRelay copies one upstream stream to the client, event by event. Why
// not SetBodyStreamWriter? fasthttp runs a stream writer in its own goroutine
// behind a pipe: a goroutine hop and a copy per flush. A body stream that
// implements fasthttp.BodyWriterTo is instead written directly: fasthttp calls
// WriteTo with a writer that sends each Write as one chunk and flushes it, so
// every event reaches the client as soon as it arrives. Relays are pooled; the
// upstream exchange is released by Close, which fasthttp calls once the
// response is written (or the client went away).
type streamRelay struct {
	s          *Server
	u          *upstream.Upstream
	req        *fasthttp.Request
	resp       *fasthttp.Response
	x          *exchange
	events     provider.EventReader
	next       error // error to return before reading further (the first read's)
	t0         time.Time
	ep         provider.Endpoint
	stripUsage bool
	restore    bool
	started    bool // the first event (read before committing) was emitted
	finished   bool // the stream's last bytes were produced
	failed     bool
	closed     bool
	pending    []byte // Read path: bytes produced but not yet read
	drain      io.LimitedReader
	active     *atomic.Int64 // the server's in-flight stripe; see Server.active
}

var relayPool = sync.Pool{New: func() any { return new(streamRelay) }}

// produce appends the next bytes for the client to dst: one event, the end
// of the stream ([DONE]) or an error event. It returns io.EOF (with dst
// unchanged) when nothing is left.
func (r *streamRelay) produce(dst []byte) ([]byte, error) {
	if r.finished {
		return dst, io.EOF
	}
	x := r.x
	err := r.next
	if r.started && err == nil {
		err = x.nextEvent(r.events, r.stripUsage)
	}
	r.started, r.next = true, nil
	if err == nil {
		data := x.ev.Data
		if r.restore {
			data = restoreChunk(x, data)
		}
		return openai.AppendEvent(dst, x.ev.Name, data), nil
	}
	r.finished = true
	r.s.fillStream(x, err == io.EOF)
	if err == io.EOF {
		r.s.metrics.served.Add(1)
		if r.ep == provider.Responses {
			return dst, nil
		}
		return append(dst, openai.DoneEvent...), nil
	}
	r.failed = true
	r.s.metrics.streamErrors.Add(1)
	pe, ok := err.(*provider.Error)
	if !ok {
		pe = &provider.Error{Status: 502, Type: "api_error", Code: "upstream_stream_interrupted",
			Message: "The upstream stream ended unexpectedly."}
	}
	dst = append(dst, "data: "...)
	dst = openai.AppendError(dst, pe.Message, pe.Type, pe.Param, pe.Code)
	return append(dst, "\n\n"...), nil
}

// buffered reports whether the next event is already at hand (no wait on the
// upstream), so it can share this write and flush.
func (r *streamRelay) buffered() bool {
	b, ok := r.events.(interface{ Buffered() bool })
	return ok && !r.finished && b.Buffered()
}

// SupportsBodyWriteTo tells fasthttp to use WriteTo (see streamRelay).
func (r *streamRelay) SupportsBodyWriteTo() bool { return true }

// WriteTo writes events as they arrive. Events that arrived together (already
// complete in the read buffer) share one chunk and one flush; an event is never
// held back while the relay waits for the upstream.
func (r *streamRelay) WriteTo(w io.Writer) (int64, error) {
	var total int64
	x := r.x
	for {
		buf := x.wbuf[:0]
		var err error
		for {
			buf, err = r.produce(buf)
			if err != nil || len(buf) >= 32<<10 || !r.buffered() {
				break
			}
		}
		x.wbuf = buf
		if len(buf) > 0 {
			n, werr := w.Write(buf)
			total += int64(n)
			if werr != nil {
				return total, werr // client gone; Close cancels the upstream
			}
		}
		if err != nil || r.finished {
			return total, nil
		}
	}
}

// Read serves fasthttp's generic path (not used by its chunked writer, which
// prefers WriteTo; kept so the relay is a correct io.Reader).
func (r *streamRelay) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		b, err := r.produce(r.x.wbuf[:0])
		if err != nil {
			return 0, io.EOF
		}
		r.x.wbuf = b
		r.pending = b
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// Close releases the upstream exchange and returns the relay to its pool.
// fasthttp calls it once the response is done; safe to call twice.
func (r *streamRelay) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.finished { // the client went away mid-stream: store nothing, release waiters
		r.s.finishFill(r.x, nil)
	}
	r.u.End(time.Since(r.t0), r.failed)
	if r.finished && !r.failed {
		// Read the rest of the body (after [DONE] only the chunked terminator
		// is left): fasthttp keeps a connection for reuse only when its body
		// was read to the end, and otherwise dials anew for the next stream.
		r.drain = io.LimitedReader{R: r.resp.BodyStream(), N: 64 << 10}
		io.Copy(io.Discard, &r.drain)
	}
	r.resp.CloseBodyStream()
	fasthttp.ReleaseRequest(r.req)
	fasthttp.ReleaseResponse(r.resp)
	releaseExchange(r.x)
	r.active.Add(-1)
	*r = streamRelay{pending: r.pending[:0]}
	relayPool.Put(r)
	return nil
}

// nextEvent reads the next event into x.ev, feeding the cache's assembler,
// and skips the usage-only chunk the router asked for on the client's behalf
// when the client did not ask for it.
func (x *exchange) nextEvent(events provider.EventReader, stripUsage bool) error {
	for {
		if err := events.Next(&x.ev); err != nil {
			return err
		}
		x.feedStream(x.ev.Data)
		if stripUsage && isUsageChunk(x.ev.Data) {
			continue
		}
		return nil
	}
}

var (
	emptyChoices = []byte(`"choices":[]`)
	usageObject  = []byte(`"usage":{`)
)

func isUsageChunk(data []byte) bool {
	return bytes.Contains(data, emptyChoices) && bytes.Contains(data, usageObject)
}

var (
	hdrUpstream = []byte("X-Switchyard-Upstream")
	hdrProvider = []byte("X-Switchyard-Provider")
)

// setServedBy names who served the answer. Canonical names and the
// upstream's precomputed values: no normalisation or conversion per request.
func setServedBy(ctx *fasthttp.RequestCtx, u *upstream.Upstream) {
	ctx.Response.Header.SetCanonical(hdrUpstream, u.NameBytes)
	ctx.Response.Header.SetCanonical(hdrProvider, u.ProviderBytes)
}

// readAtMost drains a body stream up to n bytes.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(io.LimitReader(r, n))
	return buf.Bytes(), err
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
			inner := bytes.TrimSpace(body[r.StreamOptionsStart+1 : r.StreamOptionsEnd-1])
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
