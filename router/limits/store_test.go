package limits

import (
	"sync/atomic"
	"testing"
)

// countingStore wraps the memory store the way a shared tier would sit in
// its place, and counts the operations the Limiter sends through it.
type countingStore struct {
	Store
	takes, adjusts atomic.Int64
	closed         atomic.Int64
}

type countingScope struct {
	Scope
	s *countingStore
}

func (c *countingStore) Scope(kind ScopeKind, name string) Scope {
	return countingScope{c.Store.Scope(kind, name), c}
}

func (c countingScope) Take(now int64, r Rule, ch Charge) (State, Exceeded) {
	c.s.takes.Add(1)
	return c.Scope.Take(now, r, ch)
}

func (c countingScope) Adjust(now int64, r Rule, d Charge, reserved Money, at Period) State {
	c.s.adjusts.Add(1)
	return c.Scope.Adjust(now, r, d, reserved, at)
}

func (c *countingStore) Close() error { c.closed.Add(1); return nil }

func TestLimiterUsesOnlyItsStore(t *testing.T) {
	clock := newClock(t0)
	st := &countingStore{Store: NewMemoryStore()}
	l, err := New(Config{Store: st, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ks := openKeys(t, tempKeyFile(t), clock)
	k, _ := newKey(t, ks, KeySpec{Tenant: "acme"})
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{RequestsPerMinute: 1}}).Tenant("acme")
	r, d := acme.Reserve(k, Estimate{InputTokens: 5})
	if !d.Allowed() {
		t.Fatal(d.Verdict())
	}
	r.Observe(5, 10)
	r.Settle(Usage{InputTokens: 5, OutputTokens: 12})
	if st.takes.Load() != 2 || st.adjusts.Load() != 4 {
		t.Fatalf("takes %d adjusts %d: want one take per scope, one adjust per scope for Observe and for Settle", st.takes.Load(), st.adjusts.Load())
	}
	// Refused by the tenant: the key's take is given back through the store.
	if _, d := acme.Reserve(k, Estimate{}); d.Verdict() != RequestsExceeded || d.Scope() != ScopeTenant {
		t.Fatal(d.Verdict(), d.Scope())
	}
	if st.takes.Load() != 4 || st.adjusts.Load() != 5 {
		t.Fatalf("after a refusal: takes %d adjusts %d", st.takes.Load(), st.adjusts.Load())
	}
	if acme.KeyUsage(k).Requests != 1 {
		t.Fatalf("the key's counters hold %v requests, want 1", acme.KeyUsage(k).Requests)
	}
	l.Close()
	l.Close()
	if st.closed.Load() != 1 {
		t.Fatalf("store closed %d times, want once", st.closed.Load())
	}
}
