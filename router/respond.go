package router

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/responses"
	"github.com/switchyard-dev/switchyard/router/telemetry"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// A responder writes one answer to the client and owns what goes with it:
// restoring the client's placeholders, filling the cache, recording the
// outcome. There are three: a stored answer (hitResponder), an upstream's
// JSON answer (jsonResponder) and an upstream's stream (streamRelay).
type responder interface {
	respond(x *exchange)
}

// written is the responder of an answer already written (an error).
type written struct{}

func (written) respond(*exchange) {}

// hdrCache reports what the cache did: hit, miss, bypass, coalesced or refresh.
const hdrCache = "x-switchyard-cache"

// Canonical header names and values, set with SetCanonical so fasthttp does
// not normalise them on every answer.
var (
	hdrCacheCanon    = []byte("X-Switchyard-Cache")
	hdrAge           = []byte("Age")
	hdrCacheCtl      = []byte("Cache-Control")
	hdrUpstream      = []byte("X-Switchyard-Upstream")
	hdrProvider      = []byte("X-Switchyard-Provider")
	noCache          = []byte("no-cache")
	outcomeHit       = []byte("hit")
	outcomeCoalesced = []byte("coalesced")
)

// hitResponder writes a stored answer in the client's own mode (JSON or SSE),
// with the client's own placeholders restored. Without redaction the stored
// bytes are written as they are: no copy, no allocation.
type hitResponder struct {
	entry *cache.Entry
	how   []byte // outcomeHit or outcomeCoalesced
}

func (h *hitResponder) respond(x *exchange) {
	ctx := x.ctx
	hd := &ctx.Response.Header
	hd.SetCanonical(hdrCacheCanon, h.how)
	if &h.how[0] == &outcomeHit[0] {
		var buf [20]byte
		hd.SetCanonical(hdrAge, strconv.AppendInt(buf[:0], int64(h.entry.Age(ctx.Time())/time.Second), 10))
	}
	body := h.entry.JSON
	if x.scan.Stream {
		body = h.entry.SSEBody(x.scan.IncludeUsage)
		ctx.SetContentType("text/event-stream")
		hd.SetCanonical(hdrCacheCtl, noCache)
	} else {
		ctx.SetContentType("application/json")
	}
	if x.vault.Len() > 0 {
		x.restored = x.vault.Restore(x.restored[:0], body)
		ctx.SetBody(x.restored)
	} else {
		ctx.Response.SetBodyRaw(body)
	}
	x.complete()
}

// jsonResponder writes an upstream's complete JSON answer: stored first (with
// placeholders, as every client of the tenant shares the entry), then
// restored for this client.
type jsonResponder struct {
	x      *exchange
	answer []byte // OpenAI-shaped, placeholders still in
}

func (j *jsonResponder) respond(x *exchange) {
	out := j.answer
	x.fillJSON(out)
	if x.vault.Len() > 0 {
		out = x.vault.Restore(x.restored[:0], out)
		x.restored = out
	}
	setServedBy(x.ctx, x.u)
	x.ctx.SetContentType("application/json")
	x.ctx.SetBody(out)
	x.complete()
}

// setServedBy names who served the answer. Canonical names and the
// upstream's precomputed values: no normalisation or conversion per request.
func setServedBy(ctx *fasthttp.RequestCtx, u *upstream.Upstream) {
	ctx.Response.Header.SetCanonical(hdrUpstream, u.NameBytes)
	ctx.Response.Header.SetCanonical(hdrProvider, u.ProviderBytes)
}

// streamRelay copies one upstream stream to the client, event by event. Why
// not SetBodyStreamWriter? fasthttp runs a stream writer in its own goroutine
// behind a pipe: a goroutine hop and a copy per flush. A body stream that
// implements fasthttp.BodyWriterTo is instead written directly: fasthttp calls
// WriteTo with a writer that sends each Write as one chunk and flushes it, so
// every event reaches the client as soon as it arrives. Relays are pooled.
//
// The relay is the exchange's second owner and holds the generation: both
// outlive the handler, and Close (which fasthttp calls once the response is
// written, or the client went away) lets go of them.
type streamRelay struct {
	x          *exchange
	upstream   provider.EventReader
	next       error // error to return before reading further (the first read's)
	stripUsage bool
	restore    bool
	follower   bool // relays another request's stream (a coalesced waiter): no upstream of its own
	events     int  // events relayed, for a native Responses stream's sequence numbers
	started    bool // the first event (read before committing) was emitted
	finished   bool // the stream's last bytes were produced
	failed     bool
	closed     bool
	pending    []byte // Read path: bytes produced but not yet read
	drain      io.LimitedReader
	park       parked                 // while the stream is parked (park.go)
	hj         fasthttp.HijackHandler // r.hijacked, bound once per pooled relay
}

var relayPool = sync.Pool{New: func() any { return new(streamRelay) }}

func acquireRelay(x *exchange, events provider.EventReader, first error, stripUsage bool) *streamRelay {
	r := relayPool.Get().(*streamRelay)
	if r.hj == nil {
		r.hj = r.hijacked // once per pooled relay: a method value allocates
	}
	*r = streamRelay{x: x, upstream: events, next: first, stripUsage: stripUsage, pending: r.pending[:0],
		park: r.park.reused(), hj: r.hj}
	return r
}

// respond commits to the stream: headers now, events as they arrive. A
// leader of a coalesced flight shares its stream from here on (GoLive; its
// first event is in x.ev).
func (r *streamRelay) respond(x *exchange) {
	ctx := x.ctx
	if r.follower {
		ctx.Response.Header.SetCanonical(hdrCacheCanon, outcomeCoalesced)
		if m, ok := r.x.tail.f.Meta().(*liveMeta); ok {
			setServedBy(ctx, m.u)
		}
	} else {
		setServedBy(ctx, x.u)
		if f := x.fill.flight; f != nil {
			f.GoLive(&liveMeta{u: x.u, translated: x.translated})
			if r.next == nil {
				f.Publish(x.ev.Name, x.ev.Data)
			}
		}
	}
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	if x.vault.Len() > 0 {
		r.restore = true
		x.chunks.reset(&x.vault)
	}
	if x.translated {
		x.st.Reset(&x.tr)
	}
	x.streaming = true // Close records the request
	x.refs.Add(1)      // the relay's hold on the exchange; Close drops it
	x.g.hold(x.stripe) // and on the generation
	x.g.in.load.beginStream()
	if wc := r.parkable(); wc != nil {
		// The relay writes the response itself and parks the stream (park.go).
		if wc.served == nil {
			wc.served = make(chan struct{}, 1) // once per connection
		}
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(r.hj)
		return
	}
	ctx.Response.SetBodyStream(r, -1)
}

// produce appends the next bytes for the client to dst: one event (or, on a
// translated Responses stream, the events one chat chunk becomes — possibly
// none), the end of the stream, or an error event. It returns io.EOF (with
// dst unchanged) when nothing is left.
func (r *streamRelay) produce(dst []byte) ([]byte, error) {
	if r.finished {
		return dst, io.EOF
	}
	return r.emit(dst, r.advance()), nil
}

// advance reads the next event into x.ev (the first one was read before the
// relay committed: r.next holds its error) and returns what the read
// returned. Why apart from emit? A stream spends its life parked in this
// read, and the stack the parked goroutine uses decides whether the GC can
// halve it (16 → 8 KiB, issue 16): the read is made from a frame just below
// WriteTo, not from under emit's larger one. Small enough to be inlined.
func (r *streamRelay) advance() error {
	if !r.started {
		r.started = true
		return r.next
	}
	return r.x.nextEvent(r.upstream, r.stripUsage)
}

// emit appends to dst what the client gets for the outcome err of advance:
// the event in x.ev (nil), the stream's end (io.EOF) or an error event. It
// never waits on the upstream.
func (r *streamRelay) emit(dst []byte, err error) []byte {
	x := r.x
	if err == nil {
		data := x.ev.Data
		if r.restore {
			data = restoreChunk(x, data)
		}
		if !x.translated {
			r.events++
			return openai.AppendEvent(dst, x.ev.Name, data)
		}
		mark := len(dst)
		if !x.st.Begun() {
			dst = x.st.Begin(dst)
		}
		out, cerr := x.st.Chunk(dst, data)
		if cerr != nil {
			r.finished, r.failed = true, true
			x.g.in.count.streamErrors.Inc()
			x.fillStream(false)
			out = x.st.Fail(out, "server_error", "The upstream sent an event that could not be translated.")
		}
		return r.restoreEchoes(out, mark)
	}
	r.finished = true
	mark := len(dst)
	if err == io.EOF && x.translated {
		if !x.st.Begun() {
			dst = x.st.Begin(dst)
		}
		dst, _ = x.st.Done(dst)
		x.captureFrames(dst[mark:])
	}
	x.fillStream(err == io.EOF)
	if err == io.EOF {
		x.complete()
		switch {
		case x.translated:
			return r.restoreEchoes(dst, mark)
		case x.ep == provider.Responses:
			return dst // the Responses API has no [DONE]
		}
		return append(dst, openai.DoneEvent...)
	}
	r.failed = true
	x.g.in.count.streamErrors.Inc()
	pe := streamError(err)
	switch {
	case x.translated:
		if !x.st.Begun() {
			dst = x.st.Begin(dst)
		}
		return r.restoreEchoes(x.st.Fail(dst, responses.FailCode(pe.Status, pe.Code), pe.Message), mark)
	case x.ep == provider.Responses:
		return appendResponseFailed(dst, r.events, responses.FailCode(pe.Status, pe.Code), pe.Message)
	}
	dst = append(dst, "data: "...)
	dst = openai.AppendError(dst, pe.Message, pe.Type, pe.Param, pe.Code)
	return append(dst, "\n\n"...)
}

// restoreEchoes restores the placeholders in the events a translated stream
// produced from dst[mark:]. The chat chunks were restored already (split
// placeholders included); what is left are the request's own texts the
// Response object echoes (instructions, …), whose placeholders are whole.
func (r *streamRelay) restoreEchoes(dst []byte, mark int) []byte {
	if !r.restore || len(dst) == mark {
		return dst
	}
	x := r.x
	x.echo = x.vault.Restore(x.echo[:0], dst[mark:])
	return append(dst[:mark], x.echo...)
}

// appendResponseFailed ends a native Responses stream that broke after its
// first event the way OpenAI does: a response.failed event (Codex reports its
// error code), never a cut connection. seq is the next sequence number.
func appendResponseFailed(dst []byte, seq int, code, message string) []byte {
	dst = append(dst, "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":"...)
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, `,"response":{"object":"response","status":"failed","error":{"code":`...)
	dst = openai.AppendJSONString(dst, []byte(code))
	dst = append(dst, `,"message":`...)
	dst = openai.AppendJSONString(dst, []byte(message))
	return append(dst, "}}}\n\n"...)
}

// buffered reports whether the next event is already at hand (no wait on the
// upstream), so it can share this write and flush.
func (r *streamRelay) buffered() bool { return !r.finished && r.upstream.Buffered() }

// SupportsBodyWriteTo tells fasthttp to use WriteTo (see streamRelay).
func (r *streamRelay) SupportsBodyWriteTo() bool { return true }

// WriteTo writes events as they arrive. Events that arrived together (already
// complete in the read buffer) share one chunk and one flush; an event is never
// held back while the relay waits for the upstream.
//
// The loop is kept to the read (advance, where a stream spends its life
// parked) and a call to send: every frame on the parked chain counts against
// the 4 KiB a goroutine may use for the GC to halve its stack from 16 to 8
// KiB (RATIONALE.md "Why keep the stream relay's parked stack shallow?").
func (r *streamRelay) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		err := r.advance()
		n, werr := r.send(w, err)
		total += int64(n)
		if werr != nil {
			return total, werr // client gone; Close cancels the upstream
		}
		if r.finished {
			return total, nil
		}
	}
}

// send emits the outcome err of advance and every event already complete in
// the upstream's buffer (up to 32 KiB) into x.wbuf, and writes them to w as
// one chunk. It never waits on the upstream.
func (r *streamRelay) send(w io.Writer, err error) (int, error) {
	x := r.x
	buf := r.emit(x.wbuf[:0], err)
	for len(buf) < 32<<10 && r.buffered() {
		buf = r.emit(buf, r.advance())
	}
	x.wbuf = buf
	if len(buf) == 0 {
		return 0, nil
	}
	if x.ttft == 0 {
		x.ttft = time.Since(x.start)
	}
	n, err := w.Write(buf)
	if err == nil {
		x.wrote(time.Now()) // a writing stream is not peeked at (gone.go)
	}
	return n, err
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

// Close ends the stream: the upstream attempt is recorded, the upstream
// exchange is drained (so its connection is reused) or closed, and the relay
// lets go of the exchange and the generation. fasthttp calls it once; a
// second call does nothing.
func (r *streamRelay) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	x := r.x
	if !r.finished {
		x.clientLeft() // the client went away mid-stream
	}
	if r.follower {
		x.tail.f.Unsubscribe()
	} else {
		r.closeUpstream()
	}
	g, stripe := x.g, x.stripe
	x.sse = nil
	x.record(x.ctx.Response.StatusCode())
	x.release()
	g.in.load.endStream()
	g.leave(stripe)
	*r = streamRelay{pending: r.pending[:0], park: r.park.reused(), hj: r.hj}
	relayPool.Put(r)
	return nil
}

// closeUpstream ends the relay's upstream call. A leader whose client left
// mid-stream first reads the rest for the others while they need it: the
// coalesced waiters reading it live, and the cache fill (issue 11); the
// events go nowhere but to them. Then the attempt is recorded and the
// connection goes back to the pool (the body was read to its end) or is
// closed, which cancels the cloud's generation.
func (r *streamRelay) closeUpstream() {
	x := r.x
	for !r.finished && x.answerNeeded() {
		x.wbuf, _ = r.produce(x.wbuf[:0])
	}
	if !r.finished { // nobody needs the rest: store nothing, release waiters
		x.finishFill(nil)
	}
	x.u.End(time.Since(x.t0), r.failed)
	reuse := false
	if r.finished && !r.failed {
		// Read the rest of the body (after [DONE] only the chunked terminator
		// is left): a connection is reused only when its body was read to the
		// end, and otherwise the next stream dials anew.
		r.drain = io.LimitedReader{R: x.resp.BodyStream(), N: 64 << 10}
		_, err := io.Copy(io.Discard, &r.drain)
		reuse = err == nil && r.drain.N > 0
	}
	x.resp.CloseBodyStream()
	x.line.Finish(x.resp, reuse)
}

// liveMeta is what a leader tells the waiters of its shared stream.
type liveMeta struct {
	u          *upstream.Upstream
	translated bool // the events are chat chunks to translate to the Responses API
}

// answerNeeded reports whether someone other than this request's client
// still needs its upstream answer: live readers of its shared stream, or the
// cache fill. Safe to call from the watcher.
func (x *exchange) answerNeeded() bool {
	f := x.lead.Load()
	return f != nil && (f.Subscribers() > 0 || x.filling.Load())
}

// follow makes x a reader of the leader's live stream (a coalesced waiter):
// the events already sent, then each as the leader reads it. It returns nil
// when the stream ended before x joined (x then takes the stored entry).
func (x *exchange) follow(f *cache.Flight) responder {
	m, _ := f.Meta().(*liveMeta)
	if m == nil || !f.Subscribe() {
		return nil
	}
	x.outcome = telemetry.CacheCoalesced
	if m.translated {
		if err := x.translateOnce(); err != nil {
			f.Unsubscribe()
			return nil
		}
		x.translated = true
	}
	x.tail = flightTail{f: f, ctx: &x.rctx}
	stripUsage := !x.scan.IncludeUsage && x.ep != provider.Responses
	first := x.nextEvent(&x.tail, stripUsage)
	r := acquireRelay(x, &x.tail, first, stripUsage)
	r.follower = true
	return r
}

// flightTail reads a coalesced flight's shared stream for one waiter.
type flightTail struct {
	f   *cache.Flight
	ctx context.Context
	off int
}

func (t *flightTail) Next(ev *provider.Event) error {
	name, data, next, err := t.f.Next(t.ctx, t.off)
	if err != nil {
		if err == io.EOF {
			return err
		}
		return errSharedStreamCut
	}
	t.off = next
	ev.Name, ev.Data = name, data
	return nil
}

func (t *flightTail) Buffered() bool { return t.f.Buffered(t.off) }

// errSharedStreamCut ends a waiter's shared stream that its leader's cloud cut.
var errSharedStreamCut = &provider.Error{Status: 502, Type: "api_error", Code: "upstream_stream_cut",
	Message: "The upstream stream ended before its end."}

// nextEvent reads the next event into x.ev, feeding the cache's assembler,
// and skips the usage-only chunk the router asked for on the client's behalf
// when the client did not ask for it.
func (x *exchange) nextEvent(events provider.EventReader, stripUsage bool) error {
	for {
		if err := events.Next(&x.ev); err != nil {
			return err
		}
		if x.sse != nil && x.fill.flight != nil {
			// A leader's stream, past its first event (respond publishes that
			// one): for the coalesced waiters. A waiter leads no flight.
			x.fill.flight.Publish(x.ev.Name, x.ev.Data)
		}
		x.feedStream(x.ev.Data)
		if bytes.Contains(x.ev.Data, usageObject) && x.tail.f == nil && scanUsage(x.ev.Data, &x.usage) {
			// Usage known while the stream runs: an excess over the
			// estimate counts against the next request now.
			x.res.Observe(x.usage.Input, x.usage.Output)
		}
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
	resp   []byte // a Responses stream's completed Response
}

// fillJSON stores a complete non-streamed answer (before placeholders are
// restored: entries are shared by every client of the tenant).
func (x *exchange) fillJSON(answer []byte) {
	f := &x.fill
	if !f.active && f.flight == nil {
		return
	}
	var e *cache.Entry
	if f.active {
		if built, err := x.entryFromJSON(answer); err == nil {
			e = x.store(built)
		}
	}
	x.finishFill(e)
}

// entryFromJSON builds the entry of a complete JSON answer: a chat
// completion, or a completed Response with its event stream rendered.
func (x *exchange) entryFromJSON(answer []byte) (*cache.Entry, error) {
	if x.ep != provider.Responses {
		return cache.NewEntryFromJSON(answer)
	}
	if x.conv.Status(answer) != "completed" {
		return nil, cache.ErrIncomplete
	}
	events, err := x.conv.Events(x.convBuf[:0], answer)
	if err != nil {
		return nil, err
	}
	x.convBuf = events
	return cache.NewResponsesEntry(answer, events), nil
}

// feedStream gives one streamed event to the assembler of a cacheable miss.
// A Responses stream needs no assembler: its terminal event carries the
// whole Response (captured by captureResponse).
func (x *exchange) feedStream(data []byte) {
	f := &x.fill
	if !f.active {
		return
	}
	if x.ep == provider.Responses {
		if !x.translated {
			x.captureResponse(data)
		}
		return
	}
	if f.asm == nil {
		f.asm = new(cache.Assembler)
	}
	if f.asm.Add(data) != nil {
		f.active = false // not a chat.completion stream we can store
		x.filling.Store(false)
	}
}

var doneSentinel = []byte("[DONE]")

// captureResponse keeps the Response object of a completed Responses stream's
// terminal event, for the fill.
func (x *exchange) captureResponse(data []byte) {
	if resp, ok := x.conv.Completed(data); ok && x.conv.Status(resp) == "completed" {
		x.fill.resp = append(x.fill.resp[:0], resp...)
	}
}

// captureFrames looks for the terminal event among a translated stream's
// frames (before placeholders are restored: entries keep them).
func (x *exchange) captureFrames(frames []byte) {
	if !x.fill.active {
		return
	}
	for len(frames) > 0 {
		name, data, rest, ok := responses.SplitEvent(frames)
		if !ok {
			return
		}
		if string(name) == "response.completed" {
			x.captureResponse(data)
		}
		frames = rest
	}
}

// fillStream stores a stream that ended cleanly ([DONE] seen, or a completed
// Responses stream); any other end stores nothing.
func (x *exchange) fillStream(complete bool) {
	f := &x.fill
	if f.flight != nil {
		f.flight.EndLive(complete)
	}
	if x.ep == provider.Responses {
		var e *cache.Entry
		if f.active && complete && len(f.resp) > 0 {
			if built, err := x.entryFromJSON(f.resp); err == nil {
				e = x.store(built)
			}
		}
		x.finishFill(e)
		return
	}
	var e *cache.Entry
	if f.active && complete && f.asm != nil && f.asm.Add(doneSentinel) == nil {
		if built, err := f.asm.Entry(); err == nil {
			e = x.store(built)
		}
	}
	x.finishFill(e)
}

// store offers a complete answer to the cache and returns it for the
// coalesced waiters, whether or not the cache kept it (too large, refused by
// admission): a waiter gets the answer its leader got, never a second
// upstream call (issue 11).
func (x *exchange) store(e *cache.Entry) *cache.Entry {
	f := &x.fill
	x.g.cache.Set(f.tenant, f.model, f.key, e, f.ttl)
	return e
}

// finishFill ends this request's part in the cache: it releases coalesced
// waiters (with the entry, or nil so that each makes its own call).
func (x *exchange) finishFill(e *cache.Entry) {
	if x.fill.flight != nil {
		x.fill.flight.Done(e)
		x.lead.Store(nil)
	}
	x.filling.Store(false)
	x.fill = cacheFill{resp: x.fill.resp[:0]}
}
