package router

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/telemetry"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// load counts what the PoP serves now, for the PoP-wide bounds
// (limits.max_in_flight, limits.max_streams), /readyz and the gauges. The
// counts belong to the Instance, so they span reloads; the bounds belong to
// each generation's config, so a reload changes them at once. Safe for
// concurrent use; nothing here allocates.
//
// Why one atomic per count rather than sharded counters? A bound needs the
// exact total on every request; summing shards would cost more than the one
// contended add it saves. Each count has its own cache line so that requests
// starting and streams ending do not invalidate each other's line.
type load struct {
	inFlight atomic.Int64 // API requests being served, streams included
	_        [56]byte
	streams  atomic.Int64 // streams being relayed
	_        [56]byte
	parked   atomic.Int64 // of those, parked on an event loop (park.go)
	_        [56]byte
}

// enter counts a request in, or reports false (counting nothing) when max
// requests are in flight already. max ≤ 0 bounds nothing.
func (l *load) enter(max int64) bool {
	if n := l.inFlight.Add(1); max > 0 && n > max {
		l.inFlight.Add(-1)
		return false
	}
	return true
}

// leave counts a request out (the handler's part ended).
func (l *load) leave() { l.inFlight.Add(-1) }

// streamRoom reports whether a new stream may start under max (≤ 0: no bound).
func (l *load) streamRoom(max int64) bool { return max <= 0 || l.streams.Load() < max }

// beginStream counts a stream whose relay took over. The relay holds an
// in-flight slot of its own until endStream, as it holds the exchange: it
// outlives the handler, whose slot ends when the handler returns.
func (l *load) beginStream() {
	l.streams.Add(1)
	l.inFlight.Add(1)
}

// endStream counts the relay's stream and its in-flight slot out.
func (l *load) endStream() {
	l.streams.Add(-1)
	l.inFlight.Add(-1)
}

// busy reports whether the PoP is at or above a bound of cfg's limits.
func (l *load) busy(maxStreams, maxInFlight int64) bool {
	return (maxStreams > 0 && l.streams.Load() >= maxStreams) || (maxInFlight > 0 && l.inFlight.Load() >= maxInFlight)
}

// The PoP's own overload answer: the shape, type and code of
// upstream.ErrOverloaded (a full pool), so a client handles both alike.
var (
	errPoPOverloaded = &openai.APIError{Status: 503, Type: openai.TypeAPI, Code: upstream.CodeOverloaded,
		Message: "This point of presence is at its capacity; retry shortly."}
	hdrRetryAfter      = []byte("Retry-After")
	overloadRetryAfter = []byte(strconv.Itoa(int(upstream.OverloadRetryAfter / time.Second)))
)

// overloaded answers a request beyond a PoP-wide bound at once — it reaches
// no plugin and no upstream — and counts it by reason.
func (g *Generation) overloaded(ctx *fasthttp.RequestCtx, reason telemetry.OverloadReason) {
	ctx.Response.Header.SetCanonical(hdrRetryAfter, overloadRetryAfter)
	writeError(ctx, errPoPOverloaded)
	g.in.tel.Overload(reason)
}

// LoadStats is telemetry's view of the load, read at scrape time.
func (s instanceStats) LoadStats() telemetry.LoadStat {
	l := &s.in.load
	st := telemetry.LoadStat{Streams: l.streams.Load(), InFlight: l.inFlight.Load(), Parked: l.parked.Load()}
	if g := s.in.cur.Load(); g != nil {
		st.MaxStreams, st.MaxInFlight = g.cfg.Limits.MaxStreams, g.cfg.Limits.MaxInFlight
	}
	return st
}
