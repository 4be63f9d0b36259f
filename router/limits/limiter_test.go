package limits

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRequestsPerMinute(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{RequestsPerMinute: 3}}).Tenant("acme")
	for i := range 3 {
		r, d := acme.Reserve(nil, Estimate{})
		if !d.Allowed() {
			t.Fatalf("request %d refused: %v", i, d.Verdict())
		}
		if q := d.Requests(); q.Limit != 3 || q.Remaining != int64(2-i) {
			t.Fatalf("request %d: quota %+v", i, q)
		}
		r.Cancel()
	}
	r, d := acme.Reserve(nil, Estimate{})
	if r != nil || d.Verdict() != RequestsExceeded || d.Status() != 429 || d.Scope() != ScopeTenant {
		t.Fatalf("4th: %v %v %d", r, d.Verdict(), d.Status())
	}
	// Three used of three per minute: one is free again after 20s.
	if got := d.RetryAfter(); got != 20*time.Second {
		t.Fatalf("RetryAfter = %v, want 20s", got)
	}
	clock.Advance(20*time.Second - time.Millisecond)
	if _, d := acme.Reserve(nil, Estimate{}); d.Allowed() {
		t.Fatal("admitted before a request's share of the minute leaked")
	}
	clock.Advance(time.Millisecond)
	if r, d := acme.Reserve(nil, Estimate{}); !d.Allowed() {
		t.Fatalf("refused after 20s: %v", d.Verdict())
	} else {
		r.Cancel()
	}
}

func TestTokensEstimateAndSettle(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{TokensPerMinute: 1000}}).Tenant("acme")

	r, d := acme.Reserve(nil, Estimate{InputTokens: 100, OutputTokens: 500})
	if !d.Allowed() || d.Tokens().Remaining != 400 {
		t.Fatalf("first: %v %+v", d.Verdict(), d.Tokens())
	}
	// While 600 are reserved, a 500-token estimate does not fit.
	if _, d := acme.Reserve(nil, Estimate{InputTokens: 250, OutputTokens: 250}); d.Verdict() != TokensExceeded {
		t.Fatalf("over the estimate in flight: %v", d.Verdict())
	}
	// The answer used 150 in total: 450 come back at once.
	r.Settle(Usage{InputTokens: 100, OutputTokens: 50})
	if st := acme.Usage(); st.Tokens != 150 {
		t.Fatalf("after settle the level is %v, want 150", st.Tokens)
	}
	r, d = acme.Reserve(nil, Estimate{InputTokens: 250, OutputTokens: 250})
	if !d.Allowed() {
		t.Fatalf("after settle: %v", d.Verdict())
	}
	r.Cancel()

	// An estimate above the whole limit can never pass: TooLarge, no retry-after.
	_, d = acme.Reserve(nil, Estimate{InputTokens: 900, OutputTokens: 200})
	if d.Verdict() != TooLarge || d.RetryAfter() != 0 || d.ErrorCode() != "rate_limit_exceeded" {
		t.Fatalf("too large: %v %v", d.Verdict(), d.RetryAfter())
	}
}

// TestStreamExceedingEstimateBlocksNext guards the behaviour Envoy AI Gateway
// lacks (#2394): a stream's usage beyond its estimate counts while it runs.
func TestStreamExceedingEstimateBlocksNext(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{TokensPerMinute: 1000}}).Tenant("acme")

	stream, d := acme.Reserve(nil, Estimate{InputTokens: 50, OutputTokens: 50})
	if !d.Allowed() {
		t.Fatal(d.Verdict())
	}
	next := Estimate{InputTokens: 50, OutputTokens: 50}
	// Usage arrives as the stream runs; below the estimate nothing changes.
	stream.Observe(50, 10)
	if r, d := acme.Reserve(nil, next); !d.Allowed() {
		t.Fatal("refused while the stream is within its estimate")
	} else {
		r.Cancel()
	}
	stream.Observe(50, 870) // 920 of 1000: the next 100-token estimate no longer fits
	if _, d := acme.Reserve(nil, next); d.Verdict() != TokensExceeded {
		t.Fatalf("the stream's excess did not count before it ended: %v", d.Verdict())
	}
	stream.Observe(50, 800) // cumulative, lower: nothing is given back before the end
	if st := acme.Usage(); st.Tokens != 920 {
		t.Fatalf("level %v, want 920", st.Tokens)
	}
	stream.Settle(Usage{InputTokens: 50, OutputTokens: 880})
	if st := acme.Usage(); st.Tokens != 930 {
		t.Fatalf("after settle: level %v, want 930", st.Tokens)
	}
}

func TestKeyAndTenantScopes(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	ks := openKeys(t, tempKeyFile(t), clock)
	rules := mustRules(t, l, TenantConfig{Name: "acme",
		Limits: Limits{RequestsPerMinute: 3},
		PerKey: Limits{RequestsPerMinute: 2, TokensPerMinute: 100}})
	acme := rules.Tenant("acme")
	a, _ := newKey(t, ks, KeySpec{Tenant: "acme"})
	b, _ := newKey(t, ks, KeySpec{Tenant: "acme", Limits: Limits{TokensPerMinute: 1000}})
	if got := acme.KeyLimits(b); got != (Limits{RequestsPerMinute: 2, TokensPerMinute: 1000}) {
		t.Fatalf("key limits %+v: its own must override the tenant's per_key field by field", got)
	}

	take := func(k *Key, tokens int64) Decision {
		r, d := acme.Reserve(k, Estimate{InputTokens: tokens})
		if r != nil {
			r.Settle(Usage{InputTokens: tokens})
		}
		return d
	}
	if d := take(a, 10); !d.Allowed() || d.Requests().Remaining != 1 || d.Requests().Limit != 2 {
		t.Fatalf("a1: %v %+v (the key's 2/min is tighter than the tenant's 3)", d.Verdict(), d.Requests())
	}
	if d := take(a, 10); !d.Allowed() {
		t.Fatal("a2", d.Verdict())
	}
	if d := take(a, 10); d.Verdict() != RequestsExceeded || d.Scope() != ScopeKey {
		t.Fatalf("a3: %v by %v, want requests by key", d.Verdict(), d.Scope())
	}
	if d := take(b, 200); !d.Allowed() || d.Requests().Remaining != 0 || d.Requests().Limit != 3 {
		t.Fatalf("b1: %v %+v (now the tenant's last request is the tightest)", d.Verdict(), d.Requests())
	}
	if d := take(b, 10); d.Verdict() != RequestsExceeded || d.Scope() != ScopeTenant {
		t.Fatalf("b2: %v by %v, want requests by tenant", d.Verdict(), d.Scope())
	}
	// The tenant refused b2 after b's counters took it: b gave it back.
	if st := acme.KeyUsage(b); st.Requests != 1 || st.Tokens != 200 {
		t.Fatalf("b's counters %+v after a refusal by the tenant", st)
	}
	if d := take(a, 101); d.Verdict() != TooLarge || d.Scope() != ScopeKey {
		t.Fatalf("a too large: %v by %v", d.Verdict(), d.Scope())
	}
}

func TestBudgets(t *testing.T) {
	// 23:59 UTC on the last day of a month: both periods end in a minute.
	clock := newClock(time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC))
	l := newLimiter(t, clock)
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{DailyBudget: 1, MonthlyBudget: 1.5}}).Tenant("acme")
	price := Price{Input: 2, Output: 8} // per million tokens

	// 100k input + 100k output = 0.2 + 0.8 = 1.0: the day's budget, exactly.
	r, d := acme.Reserve(nil, Estimate{})
	if !d.Allowed() {
		t.Fatal(d.Verdict())
	}
	r.Settle(Usage{InputTokens: 100_000, OutputTokens: 100_000, Price: price})
	if st := acme.Usage(); st.Day != MoneyOf(1) || st.Month != MoneyOf(1) {
		t.Fatalf("spend %v / %v, want 1 / 1", st.Day.Units(), st.Month.Units())
	}
	_, d = acme.Reserve(nil, Estimate{})
	if d.Verdict() != DailyBudgetExceeded || d.ErrorType() != "insufficient_quota" || d.ErrorCode() != "insufficient_quota" {
		t.Fatalf("over the daily budget: %v", d.Verdict())
	}
	if d.RetryAfter() != time.Minute {
		t.Fatalf("RetryAfter %v, want the minute until 00:00 UTC", d.RetryAfter())
	}
	// A new UTC day (and month): the daily budget renews, and so does the month.
	clock.Advance(time.Minute)
	r, d = acme.Reserve(nil, Estimate{})
	if !d.Allowed() {
		t.Fatalf("after midnight UTC: %v", d.Verdict())
	}
	r.Settle(Usage{OutputTokens: 75_000, Price: price})
	if st := acme.Usage(); st.Day != MoneyOf(0.6) || st.Month != MoneyOf(0.6) || st.Period.Day != int32(clock.Now().Unix()/86400) {
		t.Fatalf("new periods: %+v", st)
	}
	// 2 January: the day is fresh, the month holds 0.6. An estimate of 1.0
	// fits the day (exactly) but not the month (1.6 > 1.5).
	clock.Advance(24 * time.Hour)
	_, d = acme.Reserve(nil, Estimate{InputTokens: 100_000, OutputTokens: 100_000, Price: price})
	if d.Verdict() != MonthlyBudgetExceeded || d.Scope() != ScopeTenant {
		t.Fatalf("estimate over the monthly budget: %v", d.Verdict())
	}
	if want := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC).Sub(clock.Now()); d.RetryAfter() != want {
		t.Fatalf("RetryAfter %v, want %v (to 1 February UTC)", d.RetryAfter(), want)
	}
	// Without a price estimate, what is left of the month admits the request.
	r, d = acme.Reserve(nil, Estimate{InputTokens: 100_000, OutputTokens: 100_000})
	if !d.Allowed() {
		t.Fatalf("no estimate, 0.9 left: %v", d.Verdict())
	}
	r.Cancel()
}

func TestBudgetSettleAcrossMidnight(t *testing.T) {
	clock := newClock(time.Date(2026, 12, 16, 23, 59, 59, 0, time.UTC))
	l := newLimiter(t, clock)
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{DailyBudget: 10}}).Tenant("acme")
	price := Price{Output: 10}
	r, d := acme.Reserve(nil, Estimate{OutputTokens: 100_000, Price: price}) // reserves 1.0 today
	if !d.Allowed() || acme.Usage().Day != MoneyOf(1) {
		t.Fatal(d.Verdict(), acme.Usage().Day)
	}
	clock.Advance(2 * time.Second)
	r.Settle(Usage{OutputTokens: 50_000, Price: price}) // 0.5, settled tomorrow
	if got := acme.Usage().Day; got != MoneyOf(0.5) {
		t.Fatalf("the new day holds %v, want the whole real cost 0.5", got.Units())
	}
}

// TestConcurrentNoOvershoot: 64 clients race for one tenant's minute with a
// stopped clock; what is admitted never passes the limit, and the last
// refusals are real (no capacity is lost).
func TestConcurrentNoOvershoot(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	ks := openKeys(t, tempKeyFile(t), clock)
	const tpm, rpm = 100_000, 5000
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{TokensPerMinute: tpm, RequestsPerMinute: rpm}}).Tenant("acme")
	keys := make([]*Key, 8)
	for i := range keys {
		keys[i], _ = newKey(t, ks, KeySpec{Tenant: "acme"})
	}
	var admittedTokens, admittedRequests atomic.Int64
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 200 {
				est := Estimate{InputTokens: rng.Int64N(200), OutputTokens: rng.Int64N(300)}
				r, d := acme.Reserve(keys[g%len(keys)], est)
				if !d.Allowed() {
					continue
				}
				admittedTokens.Add(est.InputTokens + est.OutputTokens)
				admittedRequests.Add(1)
				r.Settle(Usage{InputTokens: est.InputTokens, OutputTokens: est.OutputTokens})
			}
		})
	}
	wg.Wait()
	if got := admittedTokens.Load(); got > tpm || got < tpm-500 {
		t.Fatalf("admitted %d tokens of %d per minute: want at most the limit and within one estimate (500) of it", got, tpm)
	}
	if got := admittedRequests.Load(); got > rpm {
		t.Fatalf("admitted %d requests of %d per minute", got, rpm)
	}
	if st := acme.Usage(); int64(st.Tokens) != admittedTokens.Load() {
		t.Fatalf("counters %v, admitted %d", st.Tokens, admittedTokens.Load())
	}
}

// TestConcurrentStreamsOvershootBounded: concurrent streams that outgrow
// their estimates. Every admission happens while level+estimate ≤ limit, so
// at most the excess of streams already running can pass the limit — the
// next request is refused as soon as it does.
func TestConcurrentStreamsOvershootBounded(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	const tpm = 50_000
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{TokensPerMinute: tpm}}).Tenant("acme")
	var wg sync.WaitGroup
	var used atomic.Int64
	for g := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for range 100 {
				r, d := acme.Reserve(nil, Estimate{InputTokens: 100, OutputTokens: 100})
				if !d.Allowed() {
					if d.Verdict() != TokensExceeded {
						t.Errorf("verdict %v", d.Verdict())
					}
					continue
				}
				out := int64(0)
				for range 4 {
					out += rng.Int64N(100)
					r.Observe(100, out)
				}
				r.Settle(Usage{InputTokens: 100, OutputTokens: out})
				used.Add(100 + out)
			}
		})
	}
	wg.Wait()
	st := acme.Usage()
	// Streams end at up to 100+396 tokens for a 200 estimate: at most 64
	// running streams' excess (64×296) can sit above the limit.
	if st.Tokens > tpm+64*296 {
		t.Fatalf("level %v: more than the running streams' excess above %d", st.Tokens, tpm)
	}
	if r, d := acme.Reserve(nil, Estimate{InputTokens: 1}); st.Tokens >= tpm && d.Allowed() {
		r.Cancel()
		t.Fatal("admitted a request while the level is at the limit")
	}
	if int64(st.Tokens) != used.Load() {
		t.Fatalf("level %v, but the settled streams used %d", st.Tokens, used.Load())
	}
}

func TestConcurrentBudgetNoOvershoot(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{DailyBudget: 1}}).Tenant("acme")
	price := Price{Input: 1, Output: 4}
	var spent atomic.Int64
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range 100 {
				est := Estimate{InputTokens: 1000, OutputTokens: 1000, Price: price} // 0.005 each
				r, d := acme.Reserve(nil, est)
				if !d.Allowed() {
					continue
				}
				u := Usage{InputTokens: 1000, OutputTokens: rng.Int64N(1001), Price: price}
				spent.Add(int64(price.Cost(u.InputTokens, u.OutputTokens)))
				r.Settle(u)
			}
		})
	}
	wg.Wait()
	if got := Money(spent.Load()); got > MoneyOf(1) {
		t.Fatalf("spent %v of a budget of 1", got.Units())
	}
	if got := acme.Usage().Day; got != Money(spent.Load()) {
		t.Fatalf("counter %v, spent %v", got, spent.Load())
	}
}

// TestReloadKeepsCounters: a new generation's Rules over the same Limiter
// sees the usage counted so far, with its own numbers.
func TestReloadKeepsCounters(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	ks := openKeys(t, tempKeyFile(t), clock)
	k, _ := newKey(t, ks, KeySpec{Tenant: "acme"})
	gen1 := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{RequestsPerMinute: 10, DailyBudget: 5}, PerKey: Limits{TokensPerMinute: 1000}})
	for range 4 {
		r, d := gen1.Tenant("acme").Reserve(k, Estimate{InputTokens: 100})
		if !d.Allowed() {
			t.Fatal(d.Verdict())
		}
		r.Settle(Usage{InputTokens: 100, Price: Price{Input: 10_000}}) // 1.0 each
	}
	// Reload: fewer requests allowed, a smaller budget and key limit.
	gen2 := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{RequestsPerMinute: 5, DailyBudget: 4.5}, PerKey: Limits{TokensPerMinute: 450}})
	acme := gen2.Tenant("acme")
	if st := acme.Usage(); st.Requests != 4 || st.Day != MoneyOf(4) {
		t.Fatalf("the new generation sees %+v, want the 4 requests and 4.0 spent before the reload", st)
	}
	r, d := acme.Reserve(k, Estimate{InputTokens: 50})
	if !d.Allowed() || d.Requests().Remaining != 0 || d.Tokens().Remaining != 0 || d.Tokens().Limit != 450 {
		t.Fatalf("5th: %v req %+v tok %+v", d.Verdict(), d.Requests(), d.Tokens())
	}
	r.Settle(Usage{InputTokens: 50, Price: Price{Input: 10_000}})
	if _, d := acme.Reserve(k, Estimate{}); d.Verdict() != RequestsExceeded {
		t.Fatalf("6th under the new 5/min: %v", d.Verdict())
	}
	clock.Advance(time.Minute)
	if _, d := acme.Reserve(k, Estimate{}); d.Verdict() != DailyBudgetExceeded {
		t.Fatalf("after the minute, the day's 4.5 is spent: %v", d.Verdict())
	}
	// The old generation still works for requests in flight across the reload.
	if _, d := gen1.Tenant("acme").Reserve(k, Estimate{}); !d.Allowed() {
		t.Fatalf("old generation, old budget 5: %v", d.Verdict())
	}
	// A key's counters survive its rotation (same id).
	rot, secret, err := ks.Rotate(k.ID())
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ks.Lookup([]byte(secret))
	if err != nil || k2.ID() != rot.ID {
		t.Fatal(err)
	}
	if st := acme.KeyUsage(k2); st.Day != acme.KeyUsage(k).Day || st.Day == 0 {
		t.Fatalf("rotated key's spend %v, before %v", st.Day, acme.KeyUsage(k).Day)
	}
}

func TestRulesValidation(t *testing.T) {
	l := newLimiter(t, newClock(t0))
	for name, cfg := range map[string]RulesConfig{
		"empty name":      {Tenants: []TenantConfig{{}}},
		"duplicate":       {Tenants: []TenantConfig{{Name: "a"}, {Name: "a"}}},
		"negative rpm":    {Tenants: []TenantConfig{{Name: "a", Limits: Limits{RequestsPerMinute: -1}}}},
		"huge tpm":        {Tenants: []TenantConfig{{Name: "a", Limits: Limits{TokensPerMinute: MaxRate + 1}}}},
		"negative budget": {Tenants: []TenantConfig{{Name: "a", PerKey: Limits{MonthlyBudget: -2}}}},
	} {
		if _, err := l.Rules(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	r := mustRules(t, l, TenantConfig{Name: "a"})
	if r.Tenant("b") != nil {
		t.Error("an unconfigured tenant must have no handle")
	}
	if err := l.Close(); err != nil || l.Close() != nil {
		t.Error("Close twice")
	}
}
