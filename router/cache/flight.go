package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
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

	// A streamed leader's events, shared live with streamed waiters (see
	// GoLive). Guarded by mu; subs is read without it.
	mu       sync.Mutex
	live     bool
	meta     any
	started  chan struct{} // made by the first waiter of the start, closed by GoLive
	log      []byte        // the events so far: framed records, append-only
	wake     chan struct{} // made by a waiting reader, closed by the next Publish or end
	ended    bool
	complete bool
	subs     atomic.Int32
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
	f.EndLive(false)
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

// ErrStreamCut is what a live reader gets when the leader's stream ended
// before its end (the cloud cut it, or nobody needed it any longer).
var ErrStreamCut = errors.New("cache: the shared stream ended early")

// Live sharing. Why? Coalescing made a streamed waiter wait for the whole
// generation — minutes for a reasoning model — and then replayed it at once:
// a waiter paid the leader's full generation time as its time to first byte
// (issue 11). A streamed leader instead calls GoLive when its stream starts
// and Publish for every event it reads from the cloud; a streamed waiter
// reads the events already sent and then each new one as it arrives (Next).
// The log is append-only, so a reader's views stay valid while the leader
// appends. Readers are counted (Subscribe, Unsubscribe): a leader whose own
// client left keeps the cloud's stream going while anyone reads it.

// GoLive marks the leader's stream as started (leader only). meta is what
// waiters should know of it (the router's: the upstream, the stream's
// format); it is handed to them by Meta.
func (f *Flight) GoLive(meta any) {
	f.mu.Lock()
	f.live, f.meta = true, meta
	if f.started != nil {
		close(f.started)
	}
	f.mu.Unlock()
}

// Meta is what the leader passed to GoLive.
func (f *Flight) Meta() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.meta
}

// Publish appends one event of the leader's stream (leader only).
func (f *Flight) Publish(name, data []byte) {
	f.mu.Lock()
	f.log = binary.AppendUvarint(f.log, uint64(len(name)))
	f.log = append(f.log, name...)
	f.log = binary.AppendUvarint(f.log, uint64(len(data)))
	f.log = append(f.log, data...)
	f.wakeLocked()
	f.mu.Unlock()
}

// EndLive ends the shared stream (leader only): complete when the cloud's
// stream reached its end. Done ends it too, as incomplete, if EndLive was
// not called.
func (f *Flight) EndLive(complete bool) {
	f.mu.Lock()
	if !f.ended {
		f.ended, f.complete = true, complete
		f.wakeLocked()
	}
	f.mu.Unlock()
}

func (f *Flight) wakeLocked() {
	if f.wake != nil {
		close(f.wake)
		f.wake = nil
	}
}

// WaitLive waits until the leader's stream started (true) or the flight is
// done or ctx ended (false: use Wait).
func (f *Flight) WaitLive(ctx context.Context) bool {
	f.mu.Lock()
	if f.live || f.fin.Load() {
		live := f.live
		f.mu.Unlock()
		return live
	}
	if f.started == nil {
		f.started = make(chan struct{})
	}
	ch := f.started
	f.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-f.done:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.live
	case <-ctx.Done():
		return false
	}
}

// Subscribe counts a live reader; it reports false when the stream already
// ended (the reader then takes the entry with Wait).
func (f *Flight) Subscribe() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live || f.ended {
		return false
	}
	f.subs.Add(1)
	f.c.coalesced.add()
	return true
}

// Unsubscribe ends a reader's Subscribe.
func (f *Flight) Unsubscribe() { f.subs.Add(-1) }

// Subscribers is the number of live readers.
func (f *Flight) Subscribers() int32 { return f.subs.Load() }

// Buffered reports whether the record at off is there to read without waiting.
func (f *Flight) Buffered(off int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return off < len(f.log)
}

// Next returns the event at off and the offset of the one after it, waiting
// for the leader while there is none yet. At the end of the stream it
// returns io.EOF (complete) or ErrStreamCut; when ctx ends, ctx.Err(). The
// views stay valid as long as the Flight is referenced.
func (f *Flight) Next(ctx context.Context, off int) (name, data []byte, next int, err error) {
	for {
		f.mu.Lock()
		if off < len(f.log) {
			log := f.log
			f.mu.Unlock()
			return readRecord(log, off)
		}
		if f.ended {
			complete := f.complete
			f.mu.Unlock()
			if complete {
				return nil, nil, off, io.EOF
			}
			return nil, nil, off, ErrStreamCut
		}
		if f.wake == nil {
			f.wake = make(chan struct{})
		}
		ch := f.wake
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, nil, off, ctx.Err()
		}
	}
}

func readRecord(log []byte, off int) (name, data []byte, next int, err error) {
	n, k := binary.Uvarint(log[off:])
	off += k
	name = log[off : off+int(n) : off+int(n)]
	off += int(n)
	n, k = binary.Uvarint(log[off:])
	off += k
	data = log[off : off+int(n) : off+int(n)]
	return name, data, off + int(n), nil
}
