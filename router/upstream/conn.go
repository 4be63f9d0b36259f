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
// the first byte of every answer by ttfb.
func dialer(ttfb time.Duration) fasthttp.DialFunc {
	return func(addr string) (net.Conn, error) {
		c, err := fasthttp.DialTimeout(addr, 10*time.Second)
		if err != nil || ttfb <= 0 {
			return c, err
		}
		return &ttfbConn{Conn: c, ttfb: ttfb}, nil
	}
}
