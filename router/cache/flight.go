package cache

import (
	"context"
	"sync"
	"sync/atomic"
)

const flightShards = 64

type flightShard struct {
	mu sync.Mutex
	m  map[Key]*Flight
	_  [40]byte // keep shards' locks on separate cache lines
}

// Flight is one upstream call shared by concurrent identical cacheable misses.
//
// Protocol, for the router:
//
//	e, ok := c.Get(tenant, k)                  // miss
//	f, leader := c.Join(tenant, k)
//	if leader {
//	    defer f.Done(nil)                       // on any failure path; later Done calls are no-ops
//	    ... upstream call; on a complete 200: e := NewEntryFromJSON / Assembler.Entry()
//	    c.Set(tenant, model, k, e, ttl)         // first Set, then Done: no miss window
//	    f.Done(e)
//	} else if e, ok := f.Wait(ctx); ok {
//	    ... answer from e in this request's own mode ("coalesced")
//	} else {
//	    ... leader failed or ctx ended: make this request's own upstream call
//	}
//
// A Flight is safe for concurrent use. The leader must call Done exactly once
// (further calls do nothing), or waiters block until their own deadline.
type Flight struct {
	c     *Cache
	key   Key
	shard *flightShard
	done  chan struct{}
	fin   atomic.Bool
	e     *Entry // written once before done is closed
}

// Join registers interest in k for tenant. The first caller for a key becomes
// the leader (true) and must call Done; later callers get the same Flight and
// Wait on it. If the entry was stored between the caller's Get and Join, Join
// returns an already finished Flight (false) whose Wait answers at once.
// Join allocates only when it creates a Flight.
func (c *Cache) Join(tenant string, k Key) (f *Flight, leader bool) {
	s := &c.flights[k[0]%flightShards]
	s.mu.Lock()
	if f = s.m[k]; f != nil {
		s.mu.Unlock()
		return f, false
	}
	// Re-check under the lock: a leader Sets before it Done's (which takes
	// this lock), so a missing flight with a stored entry means we raced it.
	if e, ok := c.lookup(tenant, k); ok {
		s.mu.Unlock()
		f = &Flight{c: c, key: k, done: make(chan struct{}), e: e}
		f.fin.Store(true)
		close(f.done)
		return f, false
	}
	f = &Flight{c: c, key: k, shard: s, done: make(chan struct{})}
	s.m[k] = f
	s.mu.Unlock()
	return f, true
}

// Done ends the flight (leader only). e is the answer, or nil when the upstream
// call failed, was not a complete 200 or was not storable: every waiter is then
// told to make its own call. Only the first call counts.
func (f *Flight) Done(e *Entry) {
	if !f.fin.CompareAndSwap(false, true) {
		return
	}
	f.shard.mu.Lock()
	if f.shard.m[f.key] == f {
		delete(f.shard.m, f.key)
	}
	f.shard.mu.Unlock()
	f.e = e
	close(f.done)
}

// Wait blocks until the leader is done or ctx ends. It returns the shared
// entry (read-only) and true, or false when the leader failed or ctx ended
// first: the caller then makes its own upstream call.
func (f *Flight) Wait(ctx context.Context) (*Entry, bool) {
	select {
	case <-f.done:
	default:
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, false
		}
	}
	if f.e == nil {
		return nil, false
	}
	f.c.coalesced.add()
	return f.e, true
}
