package cache

import (
	"hash/maphash"
	"sync"
)

// Why a memo of raw bytes → key? Deriving a key canonicalises the whole body
// (≈ half the time of serving a hit). Clients that repeat a deterministic
// request usually send byte-identical bodies, so the memo maps a 128-bit hash
// of the exact bytes (tenant, endpoint, model, body) to the canonical key and
// skips canonicalisation on repeats. The hash is two maphash seeds: fast
// (≈ 0.3 µs per 2 KB each), and the seeds are random and secret to this
// process, so no client can craft two bodies that collide. A full shard is
// simply cleared: the memo is an accelerator, never the source of truth.
type memo struct {
	seed1, seed2 maphash.Seed
	shards       [memoShards]memoShard
}

const (
	memoShards   = 64
	memoPerShard = 1024
)

type memoShard struct {
	mu sync.Mutex
	m  map[[2]uint64]Key
}

func newMemo() *memo {
	m := &memo{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].m = make(map[[2]uint64]Key, memoPerShard)
	}
	return m
}

func (m *memo) raw(tenant, endpoint string, model, body []byte) [2]uint64 {
	var h1, h2 maphash.Hash
	h1.SetSeed(m.seed1)
	h2.SetSeed(m.seed2)
	for _, h := range [...]*maphash.Hash{&h1, &h2} {
		h.WriteString(tenant)
		h.WriteByte(0)
		h.WriteString(endpoint)
		h.WriteByte(0)
		h.Write(model)
		h.WriteByte(0)
		h.Write(body)
	}
	return [2]uint64{h1.Sum64(), h2.Sum64()}
}

// Key derives the key of a request like Keyer.Key, through the memo: a
// byte-identical repeat of a request seen before costs two hashes and a map
// lookup instead of a canonicalisation. k provides scratch for a miss. Zero
// allocations in steady state.
func (c *Cache) Key(k *Keyer, tenant, endpoint string, model, body []byte) (Key, error) {
	r := c.memo.raw(tenant, endpoint, model, body)
	s := &c.memo.shards[r[0]%memoShards]
	s.mu.Lock()
	key, ok := s.m[r]
	s.mu.Unlock()
	if ok {
		return key, nil
	}
	key, err := k.Key(tenant, endpoint, model, body)
	if err != nil {
		return key, err
	}
	s.mu.Lock()
	if len(s.m) >= memoPerShard {
		clear(s.m)
	}
	s.m[r] = key
	s.mu.Unlock()
	return key, nil
}
