//go:build !race

package limits

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestLookupAllocs(t *testing.T) {
	ks := openKeys(t, tempKeyFile(t), nil)
	for range 100 {
		ks.Create(KeySpec{Tenant: "acme"})
	}
	k, secret := newKey(t, ks, KeySpec{Tenant: "acme", Models: []string{"gpt-5*"}, Endpoints: []string{"/v1/responses"}})
	presented := []byte(secret)
	wrong := []byte(secret[:len(secret)-1] + "?")
	model, path := []byte("gpt-5.5"), []byte("/v1/responses")
	if n := testing.AllocsPerRun(1000, func() {
		got, err := ks.Lookup(presented)
		if err != nil || got != k || !got.AllowsModel(model) || !got.AllowsEndpoint(path) {
			t.Fatal("lookup failed")
		}
	}); n != 0 {
		t.Errorf("Lookup (hit) allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := ks.Lookup(wrong); err == nil {
			t.Fatal("found a wrong key")
		}
	}); n != 0 {
		t.Errorf("Lookup (miss) allocates %v times", n)
	}
}

func TestReserveSettleAllocs(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	ks := openKeys(t, tempKeyFile(t), clock)
	k, _ := newKey(t, ks, KeySpec{Tenant: "acme"})
	acme := mustRules(t, l, TenantConfig{Name: "acme",
		Limits: Limits{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 40, DailyBudget: 1e6, MonthlyBudget: 1e7},
		PerKey: Limits{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 40}}).Tenant("acme")
	est := Estimate{InputTokens: 100, OutputTokens: 200, Price: Price{Input: 1, Output: 2}}
	var h fasthttp.ResponseHeader
	scratch := make([]byte, 0, 256)
	var body []byte
	if n := testing.AllocsPerRun(1000, func() {
		r, d := acme.Reserve(k, est)
		if !d.Allowed() {
			t.Fatal(d.Verdict())
		}
		d.WriteHeaders(&h)
		scratch = d.VisitHeaders(scratch, func(k, v []byte) {})
		r.Observe(100, 150)
		r.Observe(100, 250)
		r.Settle(Usage{InputTokens: 100, OutputTokens: 260, Price: est.Price})
	}); n != 0 {
		t.Errorf("Reserve+Observe+Settle+headers allocates %v times", n)
	}
	small := mustRules(t, l, TenantConfig{Name: "small", Limits: Limits{RequestsPerMinute: 1}}).Tenant("small")
	r, _ := small.Reserve(nil, est)
	r.Cancel()
	body = make([]byte, 0, 512)
	if n := testing.AllocsPerRun(1000, func() {
		_, d := small.Reserve(nil, est)
		if d.Allowed() {
			t.Fatal("admitted")
		}
		body = d.AppendErrorBody(body[:0])
		d.WriteHeaders(&h)
	}); n != 0 {
		t.Errorf("a refusal with its body and headers allocates %v times", n)
	}
}
