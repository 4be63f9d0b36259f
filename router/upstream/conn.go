package upstream

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/internal/nbio"
	"github.com/switchyard-dev/switchyard/router/openai"
)

// ttfbConn is every pooled upstream connection. It does two things fasthttp
// cannot.
//
// It gives every exchange a time-to-first-byte bound. fasthttp sets one read
// deadline for a whole exchange (the request's deadline, which must stay in
// force while a stream is read for minutes); it has no separate "until the
// first byte" timeout. Before reading an answer fasthttp calls
// SetReadDeadline(d): we install min(d, now+ttfb) instead and, once the first
// byte arrives, restore d.
//
// And it can be read without waiting (SetNonBlocking): a parked stream's
// event loop (router/park.go) reads only what the socket holds, and a read
// that would wait returns openai.ErrWouldBlock instead, which every layer
// above — TLS included — passes up without losing what it has read so far.
// Not safe for concurrent use, like the connection it wraps (fasthttp uses a
// connection for one exchange at a time).
type ttfbConn struct {
	net.Conn
	ttfb  time.Duration
	full  time.Time // the deadline fasthttp asked for
	armed bool      // waiting for the first byte of an answer

	fd       int // the socket, taken at dial; -1 when it has none
	nonblock bool
	drained  bool // non-blocking: the socket's bytes were all read (see Read)
	expired  bool // non-blocking: the event loop saw the exchange's deadline pass
}

func (c *ttfbConn) SetReadDeadline(d time.Time) error {
	c.full = d
	bound := d
	if c.ttfb > 0 {
		bound = time.Now().Add(c.ttfb)
		if !d.IsZero() && d.Before(bound) {
			bound = d
		}
		c.armed = true
	}
	return c.Conn.SetReadDeadline(bound)
}

func (c *ttfbConn) SetDeadline(d time.Time) error {
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return err
	}
	return c.SetReadDeadline(d)
}

func (c *ttfbConn) Read(p []byte) (int, error) {
	if c.nonblock {
		return c.readNow(p)
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.armed {
		c.armed = false
		c.Conn.SetReadDeadline(c.full)
	}
	return n, err
}

// readNow reads what the socket holds, with at most one system call, or
// returns openai.ErrWouldBlock. Why trust a short read? A read that returns
// fewer bytes than asked has emptied the socket, so the next one would find
// nothing: it is answered ErrWouldBlock without a system call (nginx does the
// same), and the event loop's next readiness event (edge-triggered: one per
// arrival) clears drained. One read per event instead of two.
func (c *ttfbConn) readNow(p []byte) (int, error) {
	if c.expired {
		return 0, os.ErrDeadlineExceeded
	}
	if c.drained || len(p) == 0 {
		return 0, openai.ErrWouldBlock
	}
	// The descriptor is read directly, not through raw.Read: in
	// non-blocking mode the connection belongs to one event loop, which
	// alone may close it (the watcher no longer watches a parked stream), so
	// the descriptor cannot be closed under the read; and the deadline is
	// the loop's to enforce (Expire). raw.Read's locking and deadline checks
	// were a tenth of the loop's CPU.
	n, e := nbio.Read(c.fd, p)
	switch {
	case e == syscall.EAGAIN:
		c.drained = true
		return 0, openai.ErrWouldBlock
	case e != 0:
		return 0, e
	case n == 0:
		return 0, io.EOF
	}
	if n < len(p) {
		c.drained = true
	}
	return n, nil
}

// dialer returns a fasthttp dial function whose connections bound the time to
// the first byte of every answer by ttfb and can be read without waiting.
// The dial itself runs on a goroutine of its own (dialAside).
func dialer(ttfb time.Duration) fasthttp.DialFunc {
	return func(addr string) (net.Conn, error) {
		c, err := dialAside(addr)
		if err != nil {
			return c, err
		}
		tc := &ttfbConn{Conn: c, ttfb: ttfb, fd: -1}
		if sc, ok := c.(syscall.Conn); ok {
			if raw, err := sc.SyscallConn(); err == nil {
				raw.Control(func(fd uintptr) { tc.fd = int(fd) })
			}
		}
		return tc, nil
	}
}

// dialAside dials addr on a short-lived goroutine and waits for it. Why not
// on the caller's? The caller is the client's connection goroutine, which a
// stream then keeps for minutes, and the resolver-and-connect chain of the
// net package needs more than 8 KiB of stack: dialed in place, every stream
// that opened a new upstream connection held a 16 KiB stack until a GC
// halved it (issue 16). The dialing goroutine grows and exits instead. A
// dial costs a TCP handshake; the goroutine and channel are noise beside it.
func dialAside(addr string) (net.Conn, error) {
	done := make(chan dialed, 1)
	go func() {
		c, err := fasthttp.DialTimeout(addr, 10*time.Second)
		done <- dialed{c, err}
	}()
	d := <-done
	return d.c, d.err
}

type dialed struct {
	c   net.Conn
	err error
}
