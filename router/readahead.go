package router

import (
	"io"
	"sync"
	"syscall"
)

// Read reads from the client. With ReduceMemoryUsage (newHTTPServer) fasthttp
// waits for each request with a 1-byte read, so that an idle connection holds
// no read buffer, and then fills its pooled buffer with a second read: one
// system call more per request than a server that keeps a buffer per
// connection. Read takes that 1-byte read as the moment to read everything
// the socket has into a pooled buffer of readAheadSize, taken only once data
// is there (RawConn.Read calls back when the socket is readable), and serves
// the next reads from it. An idle connection still holds nothing, and a
// request costs the system calls it did before: a read that finds no data
// (the poller's EAGAIN) and one that takes it. RATIONALE.md "Why
// ReduceMemoryUsage on the client-facing server?".
func (c *writeBoundConn) Read(p []byte) (int, error) {
	if c.ahead != nil {
		n := copy(p, (*c.ahead)[c.off:])
		c.off += n
		if c.off == len(*c.ahead) {
			c.dropAhead()
		}
		return n, nil
	}
	if len(p) != 1 || c.raw == nil {
		return c.Conn.Read(p)
	}
	if err := c.readAhead(); err != nil {
		return 0, err
	}
	return c.Read(p)
}

// readAheadSize holds a typical request (headers and a chat body) whole; a
// larger one is read on by fasthttp's own buffer.
const readAheadSize = 4 << 10

var aheadPool = sync.Pool{New: func() any { b := make([]byte, readAheadSize); return &b }}

// readAhead waits until the socket is readable and reads what it has into a
// pooled buffer (c.ahead, at least one byte), or returns the error (io.EOF
// when the client closed; the read deadline's error when it passed).
func (c *writeBoundConn) readAhead() error {
	if c.readFn == nil {
		c.readFn = c.readOnce // once per connection: a closure would escape, an allocation per request
	}
	c.rerr = nil
	if err := c.raw.Read(c.readFn); err != nil {
		return err
	}
	err := c.rerr
	c.rerr = nil
	return err
}

// readOnce is readAhead's read (raw.Read's callback): false while the socket
// has nothing, so the poller waits.
func (c *writeBoundConn) readOnce(fd uintptr) bool {
	b := aheadPool.Get().(*[]byte)
	*b = (*b)[:cap(*b)]
	n, e := syscall.Read(int(fd), *b)
	for e == syscall.EINTR {
		n, e = syscall.Read(int(fd), *b)
	}
	switch {
	case e == syscall.EAGAIN:
		aheadPool.Put(b)
		return false // not readable yet: the poller waits
	case e != nil:
		c.rerr = e
	case n == 0:
		c.rerr = io.EOF
	default:
		*b = (*b)[:n]
		c.ahead, c.off = b, 0
		return true
	}
	aheadPool.Put(b)
	return true
}

func (c *writeBoundConn) dropAhead() {
	aheadPool.Put(c.ahead)
	c.ahead, c.off = nil, 0
}
