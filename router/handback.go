package router

import (
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// A parked stream's connection goes back to fasthttp after the stream
// (Server.ServeConn), to read the client's next request. Two of fasthttp's
// rules for a connection it did not accept itself need help here:
//
//   - It forgets a hijacked connection's idle bookkeeping only after the
//     hijack handler started; served again before that, the connection
//     would lose its entry, and Shutdown would never close it. connState
//     tells the relay when fasthttp is done (writeBoundConn.served).
//   - Shutdown counts a connection it was given as busy for its first five
//     seconds, as if a request were about to arrive. A client that keeps its
//     connection open after a stream (every SDK does) would hold a graceful
//     stop for those seconds. The instance keeps the given-back connections
//     that have not started their next request, and Close closes them.

// handedBack is the list of given-back connections whose next request has
// not started. Intrusive: no allocation.
type handedBack struct {
	mu   sync.Mutex
	head *writeBoundConn
}

func (h *handedBack) add(c *writeBoundConn) {
	h.mu.Lock()
	c.back.Store(true)
	c.bprev, c.bnext = nil, h.head
	if h.head != nil {
		h.head.bprev = c
	}
	h.head = c
	h.mu.Unlock()
}

func (h *handedBack) remove(c *writeBoundConn) {
	h.mu.Lock()
	if c.back.Load() {
		if c.bprev != nil {
			c.bprev.bnext = c.bnext
		} else {
			h.head = c.bnext
		}
		if c.bnext != nil {
			c.bnext.bprev = c.bprev
		}
		c.back.Store(false)
		c.bprev, c.bnext = nil, nil
	}
	h.mu.Unlock()
}

// closeAll closes every listed connection: none has a request under way.
func (h *handedBack) closeAll() {
	h.mu.Lock()
	for c := h.head; c != nil; {
		next := c.bnext
		c.back.Store(false)
		c.bprev, c.bnext = nil, nil
		c.Close()
		c = next
	}
	h.head = nil
	h.mu.Unlock()
}

// connState follows fasthttp's connection states: a hijacked connection's
// relay learns that fasthttp is done with it, and a given-back connection
// whose next request started (or that closed) leaves the list.
func (in *Instance) connState(c net.Conn, st fasthttp.ConnState) {
	wc, ok := innerConn(c).(*writeBoundConn)
	if !ok {
		return
	}
	switch st {
	case fasthttp.StateHijacked:
		if wc.served != nil {
			wc.served <- struct{}{}
		}
	case fasthttp.StateActive, fasthttp.StateClosed:
		if wc.back.Load() { // read without the lock: the list's lock is taken only for a listed connection
			in.backs.remove(wc)
		}
	}
}

// serveAgain gives a connection back to fasthttp for the client's next
// request.
func (in *Instance) serveAgain(c net.Conn, wc *writeBoundConn) {
	in.backs.add(wc)
	go in.srv.ServeConn(c)
}

// closeHandedBack closes the given-back connections while Shutdown waits,
// until stop is closed: those listed now, and those a stream ending during
// the wait gives back (Close checks closed first, but a stream may be past
// that check).
func (in *Instance) closeHandedBack() chan struct{} {
	stop := make(chan struct{})
	in.backs.closeAll()
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				in.backs.closeAll()
			}
		}
	}()
	return stop
}
