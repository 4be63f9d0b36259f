package upstream

import (
	"math"
	"sync/atomic"
	"time"
)

// Breaker thresholds: after FailuresToOpen consecutive failed attempts an
// upstream is unhealthy for CoolDown, then one attempt is let through.
const (
	FailuresToOpen = 5
	CoolDown       = 5 * time.Second
)

// ewmaWeight is the weight of a new sample in the moving averages.
const ewmaWeight = 0.2

// Stats are one upstream's live statistics and breaker: attempts in flight,
// moving averages of latency, time to first byte and error rate, and the
// cloud's retry hint. They belong to the process (a Registry hands them out by
// upstream name), so a config reload keeps them. Safe for concurrent use: every
// field is an atomic.
//
// Why padded? These counters are written by every request to this upstream
// from every core; keeping them on their own cache lines avoids false sharing
// with the read-mostly fields of whatever holds a *Stats.
type Stats struct {
	_         [64]byte
	inFlight  atomic.Int32
	latencyUS atomic.Uint64 // float64 bits, EWMA
	ttfbUS    atomic.Uint64 // float64 bits, EWMA
	errRate   atomic.Uint64 // float64 bits, EWMA of failures (0/1)
	failures  atomic.Int32  // consecutive failures
	openUntil atomic.Int64  // unix nanos; breaker open (unhealthy) until then
	coolUntil atomic.Int64  // unix nanos; the cloud asked us to wait (retry-after)
	requests  atomic.Uint64
	errors    atomic.Uint64
	overloads atomic.Uint64 // attempts refused locally: the pool was full
	renewals  atomic.Uint64 // refused credentials renewed (the attempt repeated)
	unrenewed atomic.Uint64 // refused credentials that could not be renewed
	_         [64]byte
}

// Begin marks the start of an attempt.
func (s *Stats) Begin() { s.inFlight.Add(1); s.requests.Add(1) }

// FirstByte records the time to first byte of a successful attempt.
func (s *Stats) FirstByte(d time.Duration) { ewma(&s.ttfbUS, float64(d.Microseconds())) }

// End records the outcome of an attempt. Failures count towards the breaker.
func (s *Stats) End(d time.Duration, failed bool) {
	s.inFlight.Add(-1)
	if failed {
		s.errors.Add(1)
		ewma(&s.errRate, 1)
		if s.failures.Add(1) >= FailuresToOpen {
			s.openUntil.Store(time.Now().Add(CoolDown).UnixNano())
		}
		return
	}
	ewma(&s.errRate, 0)
	ewma(&s.latencyUS, float64(d.Microseconds()))
	s.failures.Store(0)
	s.openUntil.Store(0)
}

// Abandoned undoes Begin for an attempt cut because its client went away: it
// says nothing about the cloud, so it is neither a failure nor a latency
// sample.
func (s *Stats) Abandoned() { s.inFlight.Add(-1) }

// Overloaded undoes Begin for an attempt that never reached the cloud because
// the pool had no free connection. It is counted as an overload only: the
// cloud is not at fault, so the breaker, error rate, error and request
// counters do not move.
func (s *Stats) Overloaded() {
	s.inFlight.Add(-1)
	s.requests.Add(^uint64(0))
	s.overloads.Add(1)
}

// Renewal counts a refused credential's renewal: ok when the adapter had a
// newer credential and the attempt was repeated, false when it had none (the
// refusal went to the client).
func (s *Stats) Renewal(ok bool) {
	if ok {
		s.renewals.Add(1)
	} else {
		s.unrenewed.Add(1)
	}
}

// CoolFor records a cloud's retry hint: the upstream is avoided until then.
func (s *Stats) CoolFor(d time.Duration) {
	if d > 0 {
		s.coolUntil.Store(time.Now().Add(d).UnixNano())
	}
}

// CoolUntil returns when the cloud's retry hint expires (zero time if none).
func (s *Stats) CoolUntil() time.Time {
	n := s.coolUntil.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// open reports whether the breaker is open or a retry hint is pending at now.
func (s *Stats) open(now int64) bool {
	return s.openUntil.Load() > now || s.coolUntil.Load() > now
}

// Live returns the figures a routing plugin sees, without allocating.
func (s *Stats) Live() (inFlight int32, latencyUS, ttfbUS, errRate float64) {
	return max(s.inFlight.Load(), 0), load(&s.latencyUS), load(&s.ttfbUS), load(&s.errRate)
}

// Snapshot is a point-in-time copy of an upstream's statistics, for metrics,
// the admin API and tests.
type Snapshot struct {
	Requests, Errors uint64
	InFlight         int32
	LatencyUS        float64
	TTFBUS           float64
	ErrorRate        float64
	// BreakerOpen reports the breaker (consecutive failures) or a retry hint.
	BreakerOpen bool
	Failures    int32 // consecutive failed attempts
	// Overloads counts attempts answered as a local overload (the pool was
	// full); they are in neither Requests nor Errors.
	Overloads uint64
	// Renewals and Unrenewed count credentials the cloud refused on a
	// renewable upstream: renewed (the attempt was repeated) or not.
	Renewals, Unrenewed uint64
}

// Snapshot returns the statistics now.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{Requests: s.requests.Load(), Errors: s.errors.Load(), InFlight: s.inFlight.Load(),
		LatencyUS: load(&s.latencyUS), TTFBUS: load(&s.ttfbUS), ErrorRate: load(&s.errRate),
		BreakerOpen: s.open(time.Now().UnixNano()), Failures: s.failures.Load(), Overloads: s.overloads.Load(),
		Renewals: s.renewals.Load(), Unrenewed: s.unrenewed.Load()}
}

func load(a *atomic.Uint64) float64 { return math.Float64frombits(a.Load()) }

func ewma(a *atomic.Uint64, sample float64) {
	for {
		old := a.Load()
		cur := math.Float64frombits(old)
		next := sample
		if old != 0 {
			next = cur + ewmaWeight*(sample-cur)
		}
		if a.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}
