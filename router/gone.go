package router

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// This file notices clients that went away. fasthttp reads a connection only
// between requests, so a client that disconnects while its request waits for
// a plugin, a coalesced flight or a cloud's first byte — or while a stream is
// quiet, a reasoning model thinking — is noticed only at the next write: for
// a call waiting on a slow cloud, at its deadline, minutes later, with the
// upstream call still open and billed (issue 11).
//
// The watcher is one goroutine per instance. Every request in flight is on
// its list (watch, unwatch: a striped intrusive list, no allocation); every
// tick it looks at the quiet ones (see watchTick and streamQuiet) and peeks
// at their connection (recv with MSG_PEEK|MSG_DONTWAIT: it consumes
// nothing). A peer that closed (FIN or RST) makes the request gone:
// its context ends (plugins, waits), its upstream call is cut (Line.Cancel)
// unless a coalesced waiter still needs the stream, and it is counted. The
// same tick ends the context of requests past their deadline.
//
// Why peek instead of reading? The bytes after a request belong to fasthttp
// (a pipelined next request); a peek leaves them. Why not epoll's RDHUP on
// every connection? The Go netpoller owns the descriptors; a second epoll set
// would double the kernel's work per connection for every request, where a
// peek is one system call, made only at a quiet request. A stream that is
// writing is not peeked at all: a write to a closed client fails by itself.

// watchTick is how often the watcher looks at its list: a request that has
// written nothing yet (waiting for a plugin, a flight, a cloud's first byte)
// is first peeked at once it is a tick old, and then at growing intervals —
// its quiet age, up to maxPeekGap — so a thousand requests waiting on slow
// clouds cost a few hundred peeks a second, not twenty thousand.
const watchTick = 50 * time.Millisecond

// maxPeekGap bounds the interval between two peeks at a quiet request.
const maxPeekGap = time.Second

// streamQuiet is how long a request that has written (a stream) must be
// quiet before it is peeked at. Why not a tick? A stream's own writes notice
// a client that left within one gap between events; peeking at every stream
// between two events 100 ms apart cost a system call per event (issue 16's
// CPU per event). A reasoning model's pause of seconds is still seen within
// about a second.
const streamQuiet = time.Second

const watchStripes = 16

type watchStripe struct {
	mu   sync.Mutex
	head *exchange
	_    [48]byte
}

type watcher struct {
	in      *Instance
	stripes [watchStripes]watchStripe
	stop    chan struct{}
	done    chan struct{}
	// scratch of the watcher goroutine
	quiet []watched
}

type watched struct {
	x    *exchange
	seq  uint64
	raw  syscall.RawConn
	late bool // past its deadline
}

func newWatcher(in *Instance) *watcher {
	w := &watcher{in: in, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *watcher) close() {
	close(w.stop)
	<-w.done
}

func (w *watcher) run() {
	defer close(w.done)
	t := time.NewTicker(watchTick)
	defer t.Stop()
	var peek [1]byte
	for {
		select {
		case <-w.stop:
			return
		case now := <-t.C:
			w.check(now, peek[:])
		}
	}
}

// check looks at every quiet request once.
func (w *watcher) check(now time.Time, peek []byte) {
	t := now.UnixNano()
	for i := range w.stripes {
		s := &w.stripes[i]
		w.quiet = w.quiet[:0]
		s.mu.Lock()
		for x := s.head; x != nil; x = x.wnext {
			if x.rctx.state.Load() != ctxLive {
				continue
			}
			late := now.After(x.deadline)
			if !late {
				last := x.lastWrite.Load()
				quiet, need := time.Duration(t-last), watchTick
				if last != x.startNano {
					need = streamQuiet // it has written: a stream
				}
				if quiet < need || t < x.nextPeek {
					continue
				}
				x.nextPeek = t + int64(max(min(quiet, maxPeekGap), watchTick))
			}
			w.quiet = append(w.quiet, watched{x: x, seq: x.wseq, raw: x.raw, late: late})
		}
		s.mu.Unlock()
		for _, q := range w.quiet {
			switch {
			case q.late:
				w.end(s, q, ctxDeadline)
			case q.raw != nil && peerClosed(q.raw, peek):
				w.end(s, q, ctxGone)
			}
		}
	}
	clear(w.quiet[:cap(w.quiet)]) // hold no exchanges between ticks
}

// end ends q's request if it is still the one that was looked at.
func (w *watcher) end(s *watchStripe, q watched, why int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !q.x.watched || q.x.wseq != q.seq {
		return // finished meanwhile; the exchange may serve another request now
	}
	q.x.end(why)
}

// peerClosed reports whether the client closed its side: a peek that reads
// end of file, or fails with anything but "nothing to read yet".
func peerClosed(raw syscall.RawConn, buf []byte) bool {
	closed := false
	err := raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || (err != nil && err != syscall.EAGAIN && err != syscall.EINTR)
		return true
	})
	return closed || err != nil
}

// rawConnOf is the descriptor access of a client connection, taken once at
// Accept (writeBoundListener), or nil when it has none (TLS, an in-memory
// listener in tests): such a request is never peeked at.
func rawConnOf(c net.Conn) syscall.RawConn {
	if wc, ok := innerConn(c).(*writeBoundConn); ok {
		return wc.raw
	}
	return nil
}

// unsafeConn is fasthttp's hijacked connection, which wraps the one Accept
// returned.
type unsafeConn interface{ UnsafeConn() net.Conn }

// innerConn is the connection a hijacked one wraps.
func innerConn(c net.Conn) net.Conn {
	if u, ok := c.(unsafeConn); ok {
		return u.UnsafeConn()
	}
	return c
}

// watch puts x on the watcher's list. Called once per request, by the handler.
func (x *exchange) watch() {
	w := x.g.in.watch
	if w == nil || x.watched {
		return
	}
	x.raw = rawConnOf(x.ctx.Conn())
	x.startNano = x.start.UnixNano()
	x.lastWrite.Store(x.startNano)
	x.nextPeek = 0
	s := &w.stripes[x.stripe%watchStripes]
	s.mu.Lock()
	x.wseq++
	x.watched = true
	x.wprev, x.wnext = nil, s.head
	if s.head != nil {
		s.head.wprev = x
	}
	s.head = x
	s.mu.Unlock()
}

// unwatch takes x off the list; after it returns the watcher no longer
// touches x.
func (x *exchange) unwatch() {
	if !x.watched {
		return
	}
	s := &x.g.in.watch.stripes[x.stripe%watchStripes]
	s.mu.Lock()
	if x.wprev != nil {
		x.wprev.wnext = x.wnext
	} else {
		s.head = x.wnext
	}
	if x.wnext != nil {
		x.wnext.wprev = x.wprev
	}
	x.wprev, x.wnext, x.watched = nil, nil, false
	s.mu.Unlock()
	x.raw = nil
}

// wrote notes that bytes reached the client just now: the watcher leaves a
// writing request alone.
func (x *exchange) wrote(now time.Time) { x.lastWrite.Store(now.UnixNano()) }

// Why a request's context ended.
const (
	ctxLive     int32 = 0
	ctxGone     int32 = 1 // the client went away
	ctxDeadline int32 = 2 // limits.request_timeout passed
)

// end ends x's context and, when the client went away, its upstream call —
// unless someone else still needs the answer (answerNeeded: coalesced
// waiters, the cache fill; issue 11). Called by the watcher with x's stripe
// locked.
func (x *exchange) end(why int32) {
	if why != ctxGone {
		x.rctx.end(why)
		return
	}
	if x.clientLeft() && !x.answerNeeded() {
		x.line.Cancel()
	}
}

// clientLeft ends x's context because its client went away, and counts it;
// it reports false when the context had ended already (counted once).
func (x *exchange) clientLeft() bool {
	if !x.rctx.end(ctxGone) {
		return false
	}
	x.g.in.count.clientGone.Inc()
	return true
}

// reqContext is a request's context.Context: it ends at the request's
// deadline or when its client goes away, and carries the request's trace
// context's values. Plugins get it (their pool waits and calls end with the
// request), and so do the request's own waits. It lives in the pooled
// exchange, and its channel is reused until a request ends early: the
// common request allocates nothing for it.
type reqContext struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}
	state    atomic.Int32
}

// reset readies c for a request.
func (c *reqContext) reset(parent context.Context, deadline time.Time) {
	if c.done == nil || c.state.Load() != ctxLive {
		c.done = make(chan struct{})
		c.state.Store(ctxLive)
	}
	c.parent, c.deadline = parent, deadline
}

// end closes the context for why; only the first call counts.
func (c *reqContext) end(why int32) bool {
	if !c.state.CompareAndSwap(ctxLive, why) {
		return false
	}
	close(c.done)
	return true
}

func (c *reqContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *reqContext) Done() <-chan struct{}       { return c.done }

func (c *reqContext) Err() error {
	switch c.state.Load() {
	case ctxGone:
		return context.Canceled
	case ctxDeadline:
		return context.DeadlineExceeded
	}
	return nil
}

func (c *reqContext) Value(key any) any {
	if c.parent == nil {
		return nil
	}
	return c.parent.Value(key)
}

// gone reports whether the client went away.
func (x *exchange) gone() bool { return x.rctx.state.Load() == ctxGone }
