package cache

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// Defaults applied by New to zero config fields (the config loader applies the
// same; New does not rely on it).
const (
	DefaultMaxBytes      = 256 << 20
	DefaultMaxEntryBytes = 1 << 20
	DefaultTTL           = time.Hour
	DefaultMaxTTL        = 24 * time.Hour
)

// Cache is the response store: ristretto underneath, cost in bytes, a TTL per
// entry, generation counters for purges, and request coalescing.
//
// A Cache is safe for concurrent use. It owns a ristretto cache and its
// goroutines: call Close once done (Close is idempotent). Entries returned by
// Get are shared and immutable; they stay valid after eviction or Close.
type Cache struct {
	store *ristretto.Cache[uint64, *item]

	maxEntry int64
	ttl      time.Duration
	maxTTL   time.Duration

	// Purge generations. Why generations? ristretto cannot iterate or delete
	// by prefix, so each entry remembers the generation of its tenant, its
	// model, its (tenant, model) pair and of the whole cache at store time;
	// Purge bumps one counter and Get treats an entry with an old generation
	// as absent. Entries hold the counters' pointers, so Get needs no map
	// lookup or lock. Purged entries leave memory by TTL or eviction.
	genMu   sync.Mutex
	global  gen
	tenants map[string]*gen
	models  map[string]*gen
	pairs   map[[2]string]*gen

	hits, misses, coalesced striped
	sets, rejected, evicted atomic.Uint64

	flights [flightShards]flightShard

	memo *memo // raw request bytes → key (see memo.go)

	// Why a guard? ristretto's Close is check-then-act: a Get or Set racing
	// it can send on a closed channel and panic. After a config reload the
	// old Cache is closed while requests may still hold it, so every store
	// operation runs under a read lock and Close takes all of them. The read
	// locks are striped (random stripe, like the counters) so concurrent Gets
	// do not contend on one lock word.
	guard  [16]paddedRWMutex
	closed atomic.Bool
}

type paddedRWMutex struct {
	sync.RWMutex
	_ [40]byte
}

// rlock read-locks a random stripe of the guard and reports whether the cache
// is still open; the caller unlocks the returned mutex.
func (c *Cache) rlock() (*sync.RWMutex, bool) {
	m := &c.guard[rand.Uint32()&15].RWMutex
	m.RLock()
	return m, !c.closed.Load()
}

type gen struct{ n atomic.Uint64 }

// item is what ristretto stores: the entry plus what Get verifies. ristretto is
// keyed by 64 bits of the Key; the full Key and the tenant are compared on Get,
// so a 64-bit collision is a miss, never a wrong answer, and two tenants never
// share an entry even if their keys collided.
type item struct {
	key    Key
	tenant string
	gens   [4]*gen
	at     [4]uint64
	e      *Entry
}

func (it *item) fresh() bool {
	for i, g := range it.gens {
		if g.n.Load() != it.at[i] {
			return false
		}
	}
	return true
}

// striped is a counter spread over cache lines so that concurrent hits on many
// cores do not fight over one line. Why random stripes? Go offers no cheap
// processor id without linkname; math/rand/v2's per-thread generator is
// lock-free and allocation-free.
type striped [16]struct {
	n atomic.Uint64
	_ [56]byte
}

func (s *striped) add() { s[rand.Uint32()&15].n.Add(1) }

func (s *striped) load() (t uint64) {
	for i := range s {
		t += s[i].n.Load()
	}
	return t
}

// Config sizes the cache. Zero fields take the defaults above (the only place
// they are defined).
type Config struct {
	MaxBytes      int64         // bounds the cache's memory
	MaxEntryBytes int64         // caps one stored answer
	TTL           time.Duration // how long an entry lives
	MaxTTL        time.Duration // caps a client's Cache-Control: max-age
}

// New builds a cache from cfg; cfg is not modified.
func New(cfg Config) (*Cache, error) {
	maxBytes := int64(cfg.MaxBytes)
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	c := &Cache{
		maxEntry: int64(cfg.MaxEntryBytes),
		ttl:      cfg.TTL,
		maxTTL:   cfg.MaxTTL,
		tenants:  map[string]*gen{},
		models:   map[string]*gen{},
		pairs:    map[[2]string]*gen{},
		memo:     newMemo(),
	}
	if c.maxEntry == 0 {
		c.maxEntry = min(DefaultMaxEntryBytes, maxBytes)
	}
	if c.ttl == 0 {
		c.ttl = DefaultTTL
	}
	if c.maxTTL == 0 {
		c.maxTTL = DefaultMaxTTL
	}
	switch {
	case maxBytes < 0 || c.maxEntry < 0 || c.ttl < 0 || c.maxTTL < 0:
		return nil, fmt.Errorf("%w: negative size or duration", ErrConfig)
	case c.maxEntry > maxBytes:
		return nil, fmt.Errorf("%w: max_entry_bytes %d exceeds max_bytes %d", ErrConfig, c.maxEntry, maxBytes)
	}
	// ristretto wants ~10 counters per entry it will hold when full; assume
	// answers of about 4 KiB (JSON + both SSE forms of a short completion).
	counters := max(maxBytes/4096*10, 1000)
	store, err := ristretto.NewCache(&ristretto.Config[uint64, *item]{
		NumCounters:        counters,
		MaxCost:            maxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true, // Entry.Cost already counts the overhead
		KeyToHash:          func(k uint64) (uint64, uint64) { return k, 0 },
		OnEvict:            func(*ristretto.Item[*item]) { c.evicted.Add(1) },
		OnReject:           func(*ristretto.Item[*item]) { c.rejected.Add(1) },
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c.store = store
	for i := range c.flights {
		c.flights[i].m = map[Key]*Flight{}
	}
	return c, nil
}

func lo64(k Key) uint64 { return binary.LittleEndian.Uint64(k[:8]) }

// Get returns the entry stored for tenant under k, if any and not expired or
// purged. The entry is shared: read it, never modify it. It allocates nothing.
func (c *Cache) Get(tenant string, k Key) (*Entry, bool) {
	e, ok := c.lookup(tenant, k)
	if ok {
		c.hits.add()
	} else {
		c.misses.add()
	}
	return e, ok
}

func (c *Cache) lookup(tenant string, k Key) (*Entry, bool) {
	m, open := c.rlock()
	var it *item
	ok := false
	if open {
		it, ok = c.store.Get(lo64(k))
	}
	m.RUnlock()
	if !ok || it.key != k || it.tenant != tenant || !it.fresh() {
		return nil, false
	}
	return it.e, true
}

// TTL returns the lifetime of an entry stored for a request: the configured
// cache.ttl, or the client's Cache-Control max-age (from ParseControl) capped
// at cache.max_ttl. A max-age of 0 yields 0: Set then stores nothing.
func (c *Cache) TTL(maxAge time.Duration, hasMaxAge bool) time.Duration {
	if !hasMaxAge {
		return c.ttl
	}
	return min(maxAge, c.maxTTL)
}

// Set stores e for tenant under k for ttl. model is the public model name the
// key was derived with; with tenant it scopes Purge. The cache takes e: the
// caller must not modify it afterwards.
//
// Set returns true when the entry is stored and visible to every later Get
// (it waits for ristretto's write buffer, so a leader can Set then Done
// without a window in which a new request misses). It returns false, storing
// nothing, when ttl <= 0, when len(e.JSON) exceeds cache.max_entry_bytes, when
// ristretto's admission policy refuses the entry, or after Close.
func (c *Cache) Set(tenant, model string, k Key, e *Entry, ttl time.Duration) bool {
	if e == nil || ttl <= 0 {
		return false
	}
	if int64(len(e.JSON)) > c.maxEntry {
		c.rejected.Add(1)
		return false
	}
	it := &item{key: k, tenant: tenant, e: e}
	c.genMu.Lock() // never held while taking the guard here: Purge nests genMu → guard
	it.gens = [4]*gen{&c.global, genFor(c.tenants, tenant), genFor(c.models, model), genFor(c.pairs, [2]string{tenant, model})}
	for i, g := range it.gens {
		it.at[i] = g.n.Load()
	}
	c.genMu.Unlock()
	m, open := c.rlock()
	defer m.RUnlock()
	if !open {
		return false
	}
	if !c.store.SetWithTTL(lo64(k), it, e.Cost(), ttl) {
		c.rejected.Add(1)
		return false
	}
	c.store.Wait()
	if got, ok := c.store.GetTTL(lo64(k)); !ok || got <= 0 {
		return false // refused by admission (counted by OnReject) or expired already
	}
	c.sets.Add(1)
	return true
}

func genFor[K comparable](m map[K]*gen, k K) *gen {
	g := m[k]
	if g == nil {
		g = new(gen)
		m[k] = g
	}
	return g
}

// Purge makes entries unreachable: those of tenant and model; "" matches any.
// Purge("", "") empties the whole cache and frees its memory at once; the other
// forms take effect at once, and the purged entries' memory is reclaimed by
// TTL or eviction. Safe to call concurrently with everything else.
func (c *Cache) Purge(tenant, model string) {
	c.genMu.Lock()
	defer c.genMu.Unlock()
	switch {
	case tenant == "" && model == "":
		c.global.n.Add(1)
		if m, open := c.rlock(); open {
			c.store.Clear()
			m.RUnlock()
		} else {
			m.RUnlock()
		}
	case model == "":
		if g := c.tenants[tenant]; g != nil {
			g.n.Add(1)
		}
	case tenant == "":
		if g := c.models[model]; g != nil {
			g.n.Add(1)
		}
	default:
		if g := c.pairs[[2]string{tenant, model}]; g != nil {
			g.n.Add(1)
		}
	}
}

// Stats are cumulative counters since New, for metrics.
type Stats struct {
	Hits      uint64 // Get found a fresh entry
	Misses    uint64 // Get found nothing usable
	Coalesced uint64 // waiters answered by another request's upstream call
	Sets      uint64 // entries stored
	Rejected  uint64 // entries refused: too large, or by ristretto's admission policy
	Evictions uint64 // entries removed for room, on expiry, or by purging everything
	Bytes     int64  // current cost held, in bytes (includes purged, not yet evicted entries)
}

// Stats returns the counters. It takes a short lock inside ristretto; call it
// from a metrics scrape, not per request.
func (c *Cache) Stats() Stats {
	s := Stats{
		Hits:      c.hits.load(),
		Misses:    c.misses.load(),
		Coalesced: c.coalesced.load(),
		Sets:      c.sets.Load(),
		Rejected:  c.rejected.Load(),
		Evictions: c.evicted.Load(),
	}
	if m, open := c.rlock(); open {
		s.Bytes = c.store.MaxCost() - c.store.RemainingCost()
		m.RUnlock()
	} else {
		m.RUnlock()
	}
	return s
}

// Close stops ristretto's goroutines and drops every entry. Later Gets miss and
// Sets store nothing. Safe to call more than once; it always returns nil.
func (c *Cache) Close() error {
	for i := range c.guard {
		c.guard[i].Lock()
	}
	defer func() {
		for i := range c.guard {
			c.guard[i].Unlock()
		}
	}()
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.store.Close()
	return nil
}
