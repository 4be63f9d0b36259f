package limits

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is a clock the test moves; safe for concurrent use.
type testClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// t0 is a Wednesday in the middle of a month, far from any UTC boundary.
var t0 = time.Date(2026, 12, 16, 12, 0, 0, 0, time.UTC)

func newLimiter(t testing.TB, c *testClock) *Limiter {
	t.Helper()
	l, err := New(Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustRules(t testing.TB, l *Limiter, tenants ...TenantConfig) *Rules {
	t.Helper()
	r, err := l.Rules(RulesConfig{Tenants: tenants})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openKeys(t testing.TB, path string, c *testClock) *Keys {
	t.Helper()
	cfg := KeysConfig{Path: path, ReloadInterval: -1}
	if c != nil {
		cfg.Now = c.Now
	}
	ks, err := OpenKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

func tempKeyFile(t testing.TB) string { return filepath.Join(t.TempDir(), "keys.json") }

// newKey creates a key in a fresh store and returns it as Lookup sees it.
func newKey(t testing.TB, ks *Keys, spec KeySpec) (*Key, string) {
	t.Helper()
	_, secret, err := ks.Create(spec)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ks.Lookup([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

var realNow = time.Now
