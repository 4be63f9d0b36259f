package limits

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter enforces rate limits and budgets. It belongs to the router's
// instance (process lifetime) and owns the counters through its Store; the
// numbers come from Rules, built per generation. Safe for concurrent use.
type Limiter struct {
	store  Store
	now    func() time.Time
	pool   sync.Pool // *Reservation
	closed atomic.Bool
}

// New returns a Limiter over cfg.Store (nil: in memory).
func New(cfg Config) (*Limiter, error) {
	l := &Limiter{store: cfg.Store, now: cfg.Now}
	if l.store == nil {
		l.store = NewMemoryStore()
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.pool.New = func() any { return new(Reservation) }
	return l, nil
}

// Close closes the Store when it is an io.Closer. Safe to call twice;
// Reserve keeps working on a closed in-memory store.
func (l *Limiter) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	if c, ok := l.store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Rules builds one generation's numbers over l's counters. Every tenant the
// core serves should be listed (with zero Limits when it has none), so its
// usage is counted from the start and a later limit finds it. Rules is
// immutable and safe for concurrent use.
func (l *Limiter) Rules(cfg RulesConfig) (*Rules, error) {
	r := &Rules{tenants: make(map[string]*Tenant, len(cfg.Tenants))}
	for i, tc := range cfg.Tenants {
		path := fmt.Sprintf("tenants[%d]", i)
		if tc.Name == "" {
			return nil, fmt.Errorf("%w: %s.name is empty", ErrConfig, path)
		}
		if _, dup := r.tenants[tc.Name]; dup {
			return nil, fmt.Errorf("%w: %s.name %q is listed twice", ErrConfig, path, tc.Name)
		}
		if err := tc.Limits.validate(path + ".limits"); err != nil {
			return nil, err
		}
		if err := tc.PerKey.validate(path + ".limits.per_key"); err != nil {
			return nil, err
		}
		r.tenants[tc.Name] = &Tenant{
			l: l, name: tc.Name, scope: l.store.Scope(ScopeTenant, tc.Name),
			limits: tc.Limits, rule: tc.Limits.rule(), perKey: tc.PerKey,
		}
	}
	return r, nil
}

// Rules is one generation's limits: a Tenant handle per configured tenant.
type Rules struct {
	tenants map[string]*Tenant
}

// Tenant returns the handle of a configured tenant, or nil. The core resolves
// it once per tenant when it builds its generation (or per request by the
// key's Tenant: a map lookup, no allocation).
func (r *Rules) Tenant(name string) *Tenant { return r.tenants[name] }

// Tenant is one tenant's limits in one generation, over its process-lifetime
// counters. Safe for concurrent use.
type Tenant struct {
	l      *Limiter
	name   string
	scope  Scope
	limits Limits
	rule   Rule
	perKey Limits
}

// Name returns the tenant's name.
func (t *Tenant) Name() string { return t.name }

// Limits returns the tenant-wide limits and the per-key defaults.
func (t *Tenant) Limits() (tenant, perKey Limits) { return t.limits, t.perKey }

// KeyLimits returns the limits that apply to k: its own over the tenant's
// per-key defaults.
func (t *Tenant) KeyLimits(k *Key) Limits { return k.info.Limits.merged(t.perKey) }

// Usage returns the tenant's counters now.
func (t *Tenant) Usage() State { return t.scope.Peek(t.l.now().UnixNano(), t.rule) }

// KeyUsage returns k's counters now.
func (t *Tenant) KeyUsage(k *Key) State {
	r := t.KeyLimits(k).rule()
	return k.scopeIn(t.l.store).Peek(t.l.now().UnixNano(), r)
}

// Estimate is what the core expects a request to use, known after parsing.
type Estimate struct {
	// InputTokens is the estimated prompt size; OutputTokens the most the
	// answer may use (max_tokens / max_output_tokens, or the core's default).
	InputTokens, OutputTokens int64
	// Price, when known (e.g. the dearest candidate for the model), reserves
	// the estimated cost against the budgets, so concurrent requests cannot
	// overshoot a budget by more than their estimates. Zero: budgets only
	// refuse once they are spent, and requests in flight may overshoot.
	Price Price
}

// Usage is what a request really used, and what the upstream that served it
// charges (zero Price: the usage is free, e.g. a cache hit).
type Usage struct {
	InputTokens, OutputTokens int64
	Price                     Price
}

func nonNeg(n int64) int64 { return max(n, 0) }

// Reserve admits a request for tenant t and key k (nil for a key from the
// config file, which has no per-key limits) and takes est from every counter
// of both, or refuses it and takes nothing. Allowed: the Reservation must be
// settled exactly once (Settle or Cancel); refused: it is nil. The Decision
// carries the rate-limit headers either way. No allocation in steady state.
func (t *Tenant) Reserve(k *Key, est Estimate) (*Reservation, Decision) {
	now := t.l.now().UnixNano()
	in, out := nonNeg(est.InputTokens), nonNeg(est.OutputTokens)
	c := Charge{Requests: 1, Tokens: in + out, Spend: est.Price.Cost(in, out)}
	var d Decision
	var ks Scope
	var kr Rule
	if k != nil {
		kr = t.KeyLimits(k).rule()
		ks = k.scopeIn(t.l.store)
	}
	if k != nil && d.tooLarge(ScopeKey, &kr, c.Tokens) || d.tooLarge(ScopeTenant, &t.rule, c.Tokens) {
		return nil, d
	}
	var kst State
	if ks != nil {
		var ex Exceeded
		if kst, ex = ks.Take(now, kr, c); ex != ExceededNone {
			d.refuse(ex, ScopeKey, &kr, &kst, c, now)
			return nil, d
		}
		d.observe(&kr, &kst)
	}
	tst, ex := t.scope.Take(now, t.rule, c)
	if ex != ExceededNone {
		if ks != nil {
			// Why give back? Take is per scope; the key's counters took this
			// request, the tenant's refused it, so the key returns it all.
			kst = ks.Adjust(now, kr, Charge{Requests: -1, Tokens: -c.Tokens, Spend: -c.Spend}, c.Spend, kst.Period)
			d = Decision{}
			d.observe(&kr, &kst)
		}
		d.refuse(ex, ScopeTenant, &t.rule, &tst, c, now)
		return nil, d
	}
	d.observe(&t.rule, &tst)
	r := t.l.pool.Get().(*Reservation)
	*r = Reservation{t: t, key: ks, keyRule: kr, tokens: c.Tokens, spend: c.Spend, keyAt: kst.Period, tenantAt: tst.Period}
	return r, d
}

// Reservation is an admitted request's claim on its counters until the real
// usage is known. It is pooled: after Settle or Cancel it must not be used
// (a call on a nil Reservation — a refused request's — does nothing, so the
// core may settle unconditionally). Not safe for concurrent use (one request,
// one goroutine).
type Reservation struct {
	t        *Tenant
	key      Scope // nil: no managed key
	keyRule  Rule
	tokens   int64 // tokens charged so far (the estimate, then more)
	spend    Money // spend reserved at Reserve
	keyAt    Period
	tenantAt Period
}

// Observe reports the usage known so far (cumulative, e.g. while a stream
// runs). Tokens beyond what is charged are charged at once, so a stream that
// outgrows its estimate counts against the next request immediately; less
// than charged changes nothing until Settle.
func (r *Reservation) Observe(inputTokens, outputTokens int64) {
	if r == nil || r.t == nil {
		return
	}
	total := nonNeg(inputTokens) + nonNeg(outputTokens)
	if total <= r.tokens {
		return
	}
	r.adjust(Charge{Tokens: total - r.tokens}, 0)
	r.tokens = total
}

// Settle records the real usage: tokens are corrected to it (charged or given
// back) and its cost at u.Price replaces the estimated spend. It releases r.
func (r *Reservation) Settle(u Usage) {
	if r == nil || r.t == nil {
		return
	}
	in, out := nonNeg(u.InputTokens), nonNeg(u.OutputTokens)
	r.adjust(Charge{Tokens: in + out - r.tokens, Spend: u.Price.Cost(in, out) - r.spend}, r.spend)
	l := r.t.l
	*r = Reservation{}
	l.pool.Put(r)
}

// Cancel settles a request that used nothing upstream (refused later,
// answered from the cache, failed before forwarding): the request still
// counts against requests per minute; its tokens and spend are given back.
func (r *Reservation) Cancel() { r.Settle(Usage{}) }

func (r *Reservation) adjust(d Charge, reserved Money) {
	now := r.t.l.now().UnixNano()
	if r.key != nil {
		r.key.Adjust(now, r.keyRule, d, reserved, r.keyAt)
	}
	r.t.scope.Adjust(now, r.t.rule, d, reserved, r.tenantAt)
}
