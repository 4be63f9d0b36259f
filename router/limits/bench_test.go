package limits

import (
	"testing"
)

// BenchmarkKeyLookup compares the managed-key lookup (salted SHA-256, map by
// [32]byte) with the baseline it replaces: the config keys' map[string]
// lookup in router.Server.identify.
func BenchmarkKeyLookup(b *testing.B) {
	ks := openKeys(b, tempKeyFile(b), nil)
	var secrets [][]byte
	plain := map[string]int{}
	for i := range 1000 {
		_, s, err := ks.Create(KeySpec{Tenant: "acme"})
		if err != nil {
			b.Fatal(err)
		}
		secrets = append(secrets, []byte(s))
		plain[s] = i
	}
	b.Run("baseline=map[string]", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok := plain[string(secrets[i%len(secrets)])]; !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("hashed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := ks.Lookup(secrets[i%len(secrets)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReserveSettle: one request's accounting (tenant, or key and
// tenant: rates and budgets), against the baseline of the two clock reads it
// makes (one at Reserve, one at Settle), which dominate on some VMs.
func BenchmarkReserveSettle(b *testing.B) {
	l := newLimiter(b, newClock(t0))
	l.now = realNow // a moving clock: the levels leak as in production
	ks := openKeys(b, tempKeyFile(b), nil)
	k, _ := newKey(b, ks, KeySpec{Tenant: "acme"})
	huge := Limits{RequestsPerMinute: 1 << 40, TokensPerMinute: 1 << 40, DailyBudget: 1e9, MonthlyBudget: 1e9}
	acme := mustRules(b, l, TenantConfig{Name: "acme", Limits: huge, PerKey: huge}).Tenant("acme")
	est := Estimate{InputTokens: 100, OutputTokens: 200, Price: Price{Input: 1, Output: 2}}
	u := Usage{InputTokens: 100, OutputTokens: 180, Price: est.Price}
	b.Run("baseline=2×time.Now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = realNow()
			_ = realNow()
		}
	})
	b.Run("tenant", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, _ := acme.Reserve(nil, est)
			r.Settle(u)
		}
	})
	b.Run("key+tenant", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, _ := acme.Reserve(k, est)
			r.Settle(u)
		}
	})
	b.Run("key+tenant/stream4", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, _ := acme.Reserve(k, est)
			for i := int64(1); i <= 4; i++ {
				r.Observe(100, 60*i)
			}
			r.Settle(u)
		}
	})
	b.Run("key+tenant/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, _ := acme.Reserve(k, est)
				r.Settle(u)
			}
		})
	})
}
