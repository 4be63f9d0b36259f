package cache

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestCache(t testing.TB, cfg Config) *Cache {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testEntry(t testing.TB) *Entry {
	t.Helper()
	e, err := NewEntryFromJSON([]byte(textJSON))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func keyOf(t testing.TB, tenant, model, body string) Key {
	return mustKey(t, tenant, "/v1/chat/completions", model, body)
}

// eventually waits for cond with a bounded deadline (no fixed sleeps).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGetSet(t *testing.T) {
	c := newTestCache(t, Config{})
	e := testEntry(t)
	k := keyOf(t, "acme", "gpt", baseBody)
	if _, ok := c.Get("acme", k); ok {
		t.Fatal("hit on an empty cache")
	}
	if !c.Set("acme", "gpt", k, e, time.Hour) {
		t.Fatal("Set refused")
	}
	if got, ok := c.Get("acme", k); !ok || got != e {
		t.Fatal("no hit right after Set")
	}
	// Two tenants never share an entry, even given the very same Key.
	if _, ok := c.Get("other", k); ok {
		t.Error("other tenant got acme's entry")
	}
	// Same low 64 bits (ristretto's key), different Key: a miss, not a wrong answer.
	k2 := k
	k2[15] ^= 1
	if _, ok := c.Get("acme", k2); ok {
		t.Error("a Key differing in its high bits hit")
	}
	st := c.Stats()
	if st.Hits != 1 || st.Misses != 3 || st.Sets != 1 || st.Bytes != e.Cost() {
		t.Errorf("stats %+v, entry cost %d", st, e.Cost())
	}
}

func TestSetRefuses(t *testing.T) {
	c := newTestCache(t, Config{MaxEntryBytes: 100, MaxBytes: 1 << 20})
	e := testEntry(t) // JSON > 100 bytes
	k := keyOf(t, "acme", "gpt", baseBody)
	if c.Set("acme", "gpt", k, e, time.Hour) {
		t.Error("stored an entry above max_entry_bytes")
	}
	if c.Set("acme", "gpt", k, e, 0) || c.Set("acme", "gpt", k, nil, time.Hour) {
		t.Error("stored with ttl 0 or a nil entry")
	}
	if st := c.Stats(); st.Rejected != 1 || st.Sets != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestTTL(t *testing.T) {
	c := newTestCache(t, Config{TTL: 10 * time.Minute, MaxTTL: time.Hour})
	for _, tt := range []struct {
		age  time.Duration
		has  bool
		want time.Duration
	}{
		{0, false, 10 * time.Minute},
		{30 * time.Second, true, 30 * time.Second},
		{2 * time.Hour, true, time.Hour},
		{0, true, 0},
	} {
		if got := c.TTL(tt.age, tt.has); got != tt.want {
			t.Errorf("TTL(%v, %v) = %v, want %v", tt.age, tt.has, got, tt.want)
		}
	}
	k := keyOf(t, "acme", "gpt", baseBody)
	if !c.Set("acme", "gpt", k, testEntry(t), 20*time.Millisecond) {
		t.Fatal("Set refused")
	}
	eventually(t, "the entry to expire", func() bool { _, ok := c.Get("acme", k); return !ok })
}

func TestPurge(t *testing.T) {
	type stored struct{ tenant, model string }
	all := []stored{{"a", "m1"}, {"a", "m2"}, {"b", "m1"}, {"b", "m2"}}
	tests := []struct {
		tenant, model string
		gone          []bool // per entry of all
	}{
		{"a", "", []bool{true, true, false, false}},
		{"", "m1", []bool{true, false, true, false}},
		{"b", "m2", []bool{false, false, false, true}},
		{"", "", []bool{true, true, true, true}},
		{"nobody", "", []bool{false, false, false, false}},
	}
	for _, tt := range tests {
		c := newTestCache(t, Config{})
		keys := make([]Key, len(all))
		for i, s := range all {
			keys[i] = keyOf(t, s.tenant, s.model, baseBody)
			if !c.Set(s.tenant, s.model, keys[i], testEntry(t), time.Hour) {
				t.Fatal("Set refused")
			}
		}
		c.Purge(tt.tenant, tt.model)
		for i, s := range all {
			if _, ok := c.Get(s.tenant, keys[i]); ok == tt.gone[i] {
				t.Errorf("Purge(%q, %q): entry %v present=%v", tt.tenant, tt.model, s, ok)
			}
		}
		// Purged keys can be filled again.
		if !c.Set(all[0].tenant, all[0].model, keys[0], testEntry(t), time.Hour) {
			t.Fatal("Set after purge refused")
		}
		if _, ok := c.Get(all[0].tenant, keys[0]); !ok {
			t.Errorf("Purge(%q, %q): refilled entry missing", tt.tenant, tt.model)
		}
	}
}

func TestPurgeAllFreesBytes(t *testing.T) {
	c := newTestCache(t, Config{})
	c.Set("a", "m", keyOf(t, "a", "m", baseBody), testEntry(t), time.Hour)
	if c.Stats().Bytes == 0 {
		t.Fatal("no bytes accounted")
	}
	c.Purge("", "")
	if b := c.Stats().Bytes; b != 0 {
		t.Errorf("%d bytes left after purging all", b)
	}
}

func TestNewConfig(t *testing.T) {
	for _, cfg := range []Config{
		{MaxBytes: -1},
		{TTL: -time.Second},
		{MaxBytes: 1 << 20, MaxEntryBytes: 2 << 20},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
}

func TestClose(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	k := keyOf(t, "a", "m", baseBody)
	c.Set("a", "m", k, testEntry(t), time.Hour)
	if c.Close() != nil || c.Close() != nil {
		t.Fatal("Close failed")
	}
	if _, ok := c.Get("a", k); ok {
		t.Error("hit after Close")
	}
	if c.Set("a", "m", k, testEntry(t), time.Hour) {
		t.Error("Set after Close")
	}
	c.Purge("", "")
	_ = c.Stats()
}

// TestCoalesce: 100 concurrent identical misses make one upstream call, and
// every waiter gets the leader's entry.
func TestCoalesce(t *testing.T) {
	c := newTestCache(t, Config{})
	k := keyOf(t, "acme", "gpt", baseBody)
	const n = 100
	var upstream, joined, leaders atomic.Int32
	results := make([]*Entry, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if e, ok := c.Get("acme", k); ok {
				results[i] = e
				return
			}
			f, leader := c.Join("acme", k)
			joined.Add(1)
			if !leader {
				results[i], _ = f.Wait(ctx)
				return
			}
			leaders.Add(1)
			defer f.Done(nil)
			upstream.Add(1)
			// Hold the upstream call until every request has arrived, so
			// the test exercises waiting rather than late hits.
			for joined.Load() < n && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			e := testEntry(t)
			c.Set("acme", "gpt", k, e, time.Hour)
			f.Done(e)
			results[i] = e
		})
	}
	wg.Wait()
	if upstream.Load() != 1 || leaders.Load() != 1 {
		t.Fatalf("%d upstream calls, %d leaders; want 1", upstream.Load(), leaders.Load())
	}
	for i, e := range results {
		if e == nil || e != results[0] {
			t.Fatalf("request %d got %p, want the leader's entry %p", i, e, results[0])
		}
	}
	if st := c.Stats(); st.Coalesced != n-1 {
		t.Errorf("coalesced %d, want %d", st.Coalesced, n-1)
	}
}

// TestCoalesceLeaderFails: waiters are told to make their own call.
func TestCoalesceLeaderFails(t *testing.T) {
	c := newTestCache(t, Config{})
	k := keyOf(t, "acme", "gpt", baseBody)
	f, leader := c.Join("acme", k)
	if !leader {
		t.Fatal("first Join is not the leader")
	}
	const n = 10
	var wg sync.WaitGroup
	var own atomic.Int32
	for range n {
		g, l := c.Join("acme", k)
		if l || g != f {
			t.Fatal("second Join became a leader")
		}
		wg.Go(func() {
			if _, ok := g.Wait(context.Background()); !ok {
				own.Add(1)
			}
		})
	}
	f.Done(nil)
	f.Done(testEntry(t)) // later calls do nothing
	wg.Wait()
	if own.Load() != n {
		t.Errorf("%d of %d waiters told to go themselves", own.Load(), n)
	}
	// The flight is over: the next Join leads a new one.
	if g, l := c.Join("acme", k); !l || g == f {
		t.Error("Join after a failed flight did not lead")
	}
}

func TestWaitDeadline(t *testing.T) {
	c := newTestCache(t, Config{})
	k := keyOf(t, "acme", "gpt", baseBody)
	f, _ := c.Join("acme", k)
	defer f.Done(nil)
	g, _ := c.Join("acme", k)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, ok := g.Wait(ctx); ok {
		t.Error("Wait succeeded on an unfinished flight")
	}
}

// TestJoinAfterSet guards the window between a request's Get and its Join:
// if the leader stored the entry meanwhile, Join answers from the cache.
func TestJoinAfterSet(t *testing.T) {
	c := newTestCache(t, Config{})
	k := keyOf(t, "acme", "gpt", baseBody)
	e := testEntry(t)
	c.Set("acme", "gpt", k, e, time.Hour)
	f, leader := c.Join("acme", k)
	if leader {
		t.Fatal("Join led although the entry is stored")
	}
	if got, ok := f.Wait(context.Background()); !ok || got != e {
		t.Error("finished flight did not answer")
	}
	// Another tenant with the same key does not see it.
	if _, leader := c.Join("other", k); !leader {
		t.Error("other tenant joined acme's entry")
	}
}

// TestHammer runs every operation at once (meant for -race).
func TestHammer(t *testing.T) {
	c := newTestCache(t, Config{MaxBytes: 64 << 10})
	e := testEntry(t)
	keys := make([]Key, 64)
	for i := range keys {
		keys[i] = keyOf(t, "t", "m", baseBody[:len(baseBody)-1]+`,"n":`+strconv.Itoa(i)+`}`)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := keys[(g*7+i)%len(keys)]
				switch i % 5 {
				case 0:
					c.Set("t", "m", k, e, time.Hour)
				case 1:
					if f, leader := c.Join("t", k); leader {
						f.Done(e)
					} else {
						ctx, cancel := context.WithTimeout(context.Background(), time.Second)
						f.Wait(ctx)
						cancel()
					}
				case 2:
					if i%100 == 2 {
						c.Purge("t", "")
					}
				default:
					if got, ok := c.Get("t", k); ok && got != e {
						t.Error("wrong entry")
					}
				}
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Bytes > 64<<10 {
		t.Errorf("bytes %d above max_bytes", st.Bytes)
	}
}

func BenchmarkGet(b *testing.B) {
	c := newTestCache(b, Config{})
	k := keyOf(b, "acme", "gpt", baseBody)
	c.Set("acme", "gpt", k, testEntry(b), time.Hour)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get("acme", k); !ok {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkKeyAndGet is the router's whole lookup: derive the key of a 2 KB
// body, then Get.
func BenchmarkKeyAndGet(b *testing.B) {
	c := newTestCache(b, Config{})
	body := benchBody(2048)
	var kr Keyer
	k, _ := kr.Key("acme", "/v1/chat/completions", []byte("gpt"), body)
	c.Set("acme", "gpt", k, testEntry(b), time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		k, _ := kr.Key("acme", "/v1/chat/completions", []byte("gpt"), body)
		if _, ok := c.Get("acme", k); !ok {
			b.Fatal("miss")
		}
	}
}

// TestCloseWhileServing guards against ristretto's racy Close: after a reload
// the old cache is closed while requests still use it.
func TestCloseWhileServing(t *testing.T) {
	for range 20 {
		c, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		k := keyOf(t, "a", "m", baseBody)
		e := testEntry(t)
		c.Set("a", "m", k, e, time.Hour)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					switch (g + i) % 4 {
					case 0:
						c.Set("a", "m", k, e, time.Hour)
					case 1:
						c.Purge("", "")
					case 2:
						c.Stats()
					default:
						c.Get("a", k)
					}
				}
			})
		}
		c.Get("a", k)
		c.Close()
		close(stop)
		wg.Wait()
	}
}
