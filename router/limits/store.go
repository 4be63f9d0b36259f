package limits

import (
	"sync"
	"time"
)

// Store holds the counters of every scope, for the process's lifetime.
//
// Why an interface? The counters are on this PoP today (NewMemoryStore); the
// shared tier (Redis) implements the same two operations per scope as one
// script each, and nothing above the Store changes. Implementations must be
// safe for concurrent use, and Take must be all-or-nothing per scope.
type Store interface {
	// Scope returns the counters of one tenant or key, creating them on first
	// use. Callers resolve a scope once and keep the handle.
	Scope(kind ScopeKind, name string) Scope
}

// Scope is the counters of one tenant or key: two rolling per-minute levels
// (requests, tokens) and the spend of the current UTC day and month.
type Scope interface {
	// Take adds c to the counters if no limit of r would be exceeded, and
	// otherwise changes nothing and reports the first limit that would be.
	// It returns the state after (or, when refused, as it is).
	Take(now int64, r Rule, c Charge) (State, Exceeded)
	// Adjust adds the signed delta without a check (settling real usage,
	// refunding). reserved is the spend that was taken in period at; if the
	// day or month has turned since, that spend no longer sits in the current
	// period, so reserved is added back to delta.Spend for it.
	Adjust(now int64, r Rule, delta Charge, reserved Money, at Period) State
	// Peek returns the state without changing it (admin, tests).
	Peek(now int64, r Rule) State
}

// ScopeKind says whether a scope is a tenant or a key; names are unique per kind.
type ScopeKind uint8

// Scope kinds.
const (
	ScopeTenant ScopeKind = iota + 1
	ScopeKey
)

// String returns "tenant" or "key".
func (k ScopeKind) String() string {
	if k == ScopeKey {
		return "key"
	}
	return "tenant"
}

// Charge is what one request takes from a scope (or gives back, negative).
type Charge struct {
	Requests, Tokens int64
	Spend            Money
}

// Period names the UTC day (days since 1970-01-01) and month (year*12 +
// month-1) that spend was counted in.
type Period struct{ Day, Month int32 }

// State is a snapshot of one scope's counters.
type State struct {
	// Requests and Tokens are the rolling levels: what the last minute used,
	// draining continuously at the limit's rate.
	Requests, Tokens float64
	// Day and Month are the spend of the current periods, including the
	// estimates of requests in flight.
	Day, Month Money
	// Period is the current day and month; DayEnd and MonthEnd are when they
	// end (Unix nanoseconds, UTC midnight).
	Period           Period
	DayEnd, MonthEnd int64
}

// Exceeded names the limit a Take would exceed.
type Exceeded uint8

// The limits a Take can refuse on, in the order they are checked.
const (
	ExceededNone Exceeded = iota
	ExceededRequests
	ExceededTokens
	ExceededDailyBudget
	ExceededMonthlyBudget
)

// NewMemoryStore returns a Store that keeps the counters in this process's
// memory.
func NewMemoryStore() Store {
	return &memoryStore{tenants: map[string]*memScope{}, keys: map[string]*memScope{}}
}

type memoryStore struct {
	mu      sync.RWMutex
	tenants map[string]*memScope
	keys    map[string]*memScope
}

func (m *memoryStore) Scope(kind ScopeKind, name string) Scope {
	tab := m.tenants
	if kind == ScopeKey {
		tab = m.keys
	}
	m.mu.RLock()
	s := tab[name]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = tab[name]; s == nil {
		s = &memScope{}
		tab[name] = s
	}
	return s
}

const (
	minuteNs = int64(time.Minute)
	dayNs    = int64(24 * time.Hour)
)

// memScope is one scope's counters under one mutex. Why a mutex and not a
// lock-free GCRA word? Four counters change together (both levels and both
// budgets), all or nothing; an uncontended lock costs about as much as one
// CAS, and contention is per tenant or key, not global. The padding keeps two
// hot scopes allocated side by side off one cache line.
type memScope struct {
	mu       sync.Mutex
	req, tok level
	day, mon Money
	period   Period
	dayEnd   int64
	monthEnd int64
	_        [64]byte
}

// level is a leaky bucket: v units, draining at the limit per minute since at.
type level struct {
	v  float64
	at int64
}

// drain lets the level leak until now. Without a limit (perMinute 0) it
// still leaks, by the share of a minute that passed, so that a reload adding
// a limit finds roughly the last minute's use rather than a lifetime's.
func (l *level) drain(now int64, perMinute float64) {
	if now <= l.at {
		return // the clock stood still or stepped back: no leak
	}
	el := float64(now - l.at)
	if perMinute > 0 {
		l.v -= el * perMinute / float64(minuteNs)
	} else {
		l.v -= l.v * el / float64(minuteNs)
	}
	if l.v < 0 {
		l.v = 0
	}
	l.at = now
}

func (l *level) add(n int64) {
	if l.v += float64(n); l.v < 0 {
		l.v = 0
	}
}

// roll starts a new day or month when now has passed the current one's end.
func (s *memScope) roll(now int64) {
	if now < s.dayEnd {
		return
	}
	day := now / dayNs
	if now < 0 && now%dayNs != 0 {
		day--
	}
	s.period.Day, s.dayEnd, s.day = int32(day), (day+1)*dayNs, 0
	y, m, _ := time.Unix(0, now).UTC().Date()
	if mi := int32(y*12 + int(m) - 1); mi != s.period.Month || s.monthEnd == 0 {
		s.period.Month, s.mon = mi, 0
		s.monthEnd = time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	}
}

func (s *memScope) update(now int64, r Rule) {
	s.roll(now)
	s.req.drain(now, r.RequestsPerMinute)
	s.tok.drain(now, r.TokensPerMinute)
}

func (s *memScope) state() State {
	return State{Requests: s.req.v, Tokens: s.tok.v, Day: s.day, Month: s.mon,
		Period: s.period, DayEnd: s.dayEnd, MonthEnd: s.monthEnd}
}

// overBudget reports whether taking est on top of charged passes budget.
// Without an estimate (the price is not known yet) a request is admitted
// while anything is left, so only requests in flight can overshoot.
func overBudget(charged, est, budget Money) bool {
	if budget <= 0 {
		return false
	}
	if est <= 0 {
		return charged >= budget
	}
	return charged+est > budget
}

func (s *memScope) Take(now int64, r Rule, c Charge) (State, Exceeded) {
	s.mu.Lock()
	s.update(now, r)
	ex := ExceededNone
	switch {
	case r.RequestsPerMinute > 0 && c.Requests > 0 && s.req.v+float64(c.Requests) > r.RequestsPerMinute:
		ex = ExceededRequests
	case r.TokensPerMinute > 0 && c.Tokens > 0 && s.tok.v+float64(c.Tokens) > r.TokensPerMinute:
		ex = ExceededTokens
	case overBudget(s.day, c.Spend, r.Daily):
		ex = ExceededDailyBudget
	case overBudget(s.mon, c.Spend, r.Monthly):
		ex = ExceededMonthlyBudget
	default:
		s.req.add(c.Requests)
		s.tok.add(c.Tokens)
		s.day += c.Spend
		s.mon += c.Spend
	}
	st := s.state()
	s.mu.Unlock()
	return st, ex
}

func (s *memScope) Adjust(now int64, r Rule, d Charge, reserved Money, at Period) State {
	s.mu.Lock()
	s.update(now, r)
	s.req.add(d.Requests)
	s.tok.add(d.Tokens)
	s.day = addSpend(s.day, d.Spend, reserved, at.Day == s.period.Day)
	s.mon = addSpend(s.mon, d.Spend, reserved, at.Month == s.period.Month)
	st := s.state()
	s.mu.Unlock()
	return st
}

func addSpend(cur, delta, reserved Money, samePeriod bool) Money {
	if !samePeriod {
		delta += reserved
	}
	if cur += delta; cur < 0 {
		cur = 0
	}
	return cur
}

func (s *memScope) Peek(now int64, r Rule) State {
	s.mu.Lock()
	s.update(now, r)
	st := s.state()
	s.mu.Unlock()
	return st
}
