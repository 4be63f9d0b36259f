package upstream

import (
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// ttfbConn gives every exchange on a pooled connection a time-to-first-byte
// bound. Why a conn wrapper? fasthttp sets one read deadline for a whole
// exchange (the request's deadline, which must stay in force while a stream is
// read for minutes); it has no separate "until the first byte" timeout. Before
// reading an answer fasthttp calls SetReadDeadline(d): we install
// min(d, now+ttfb) instead and, once the first byte arrives, restore d. Not
// safe for concurrent use, like the connection it wraps (fasthttp uses a
// connection for one exchange at a time).
type ttfbConn struct {
	net.Conn
	ttfb  time.Duration
	full  time.Time // the deadline fasthttp asked for
	armed bool      // waiting for the first byte of an answer
}

func (c *ttfbConn) SetReadDeadline(d time.Time) error {
	c.full = d
	bound := time.Now().Add(c.ttfb)
	if !d.IsZero() && d.Before(bound) {
		bound = d
	}
	c.armed = true
	return c.Conn.SetReadDeadline(bound)
}

func (c *ttfbConn) SetDeadline(d time.Time) error {
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return err
	}
	return c.SetReadDeadline(d)
}

func (c *ttfbConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.armed {
		c.armed = false
		c.Conn.SetReadDeadline(c.full)
	}
	return n, err
}

// dialer returns a fasthttp dial function whose connections bound the time to
// the first byte of every answer by ttfb. The dial itself runs on a goroutine
// of its own (dialAside).
func dialer(ttfb time.Duration) fasthttp.DialFunc {
	return func(addr string) (net.Conn, error) {
		c, err := dialAside(addr)
		if err != nil || ttfb <= 0 {
			return c, err
		}
		return &ttfbConn{Conn: c, ttfb: ttfb}, nil
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
