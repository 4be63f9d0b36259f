package upstream

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
)

// Body is a streamed answer's body, decoded (chunked, sized, or up to the
// connection's close) by the router itself rather than by fasthttp's stream
// reader. Why our own? Two reasons, both for the parked stream (issue 16).
// fasthttp's reader keeps the connection's 4 KiB read buffer for the body's
// whole life; Body reads the bytes fasthttp's header read left in that buffer
// and then gives it back, reading the socket directly into its caller's
// buffer and removing the chunk framing in place (no copy of its own). And
// fasthttp's chunk parser reads byte by byte and loses its place on any
// error; Body's decoder is a state machine that stops anywhere — mid size
// line, mid chunk, mid trailer — so a non-blocking read (SetNonBlocking) can
// return openai.ErrWouldBlock at any byte and be resumed.
//
// A Body lives in its Line (no allocation) and is read by one goroutine at a
// time.
type Body struct {
	l     *Line
	conn  net.Conn // the exchange's connection (TLS or plain)
	pc    *ttfbConn
	mode  bodyMode
	left  int64 // sized: bytes left; chunked: bytes left in the current chunk
	state chunkState
	size  int64 // chunked: the size line's value so far
	digit bool  // chunked: the size line has a digit
	done  bool  // the body's end was read
	err   error // a decoding error, returned from then on
}

type bodyMode uint8

const (
	bodySized   bodyMode = iota // Content-Length
	bodyChunked                 // Transfer-Encoding: chunked
	bodyToClose                 // neither: the body ends with the connection
)

type chunkState uint8

const (
	chunkSize      chunkState = iota // hex digits of a size line
	chunkExt                         // a size line's extension, up to its LF
	chunkData                        // chunk bytes (left of them)
	chunkDataEnd                     // the CR LF after a chunk's bytes
	chunkDataLF                      // the LF of that CR LF
	chunkTrailer                     // the start of a trailer line (after the last chunk)
	chunkTrailerLn                   // inside a trailer line, up to its LF
	chunkTrailerLF                   // the LF of the blank line that ends the body
)

// errBadChunk reports a chunked body that does not follow RFC 9112's syntax.
var errBadChunk = errors.New("upstream: malformed chunked body")

// maxChunkSize bounds one chunk's size line: a larger value is a broken or
// hostile upstream, not an answer.
const maxChunkSize = 1 << 40

// reset readies b for an answer whose header said contentLength (fasthttp's
// convention: -1 chunked, -2 until close).
func (b *Body) reset(l *Line, conn net.Conn, contentLength int) {
	*b = Body{l: l, conn: conn}
	c := conn
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if pc, ok := c.(*ttfbConn); ok && pc.fd >= 0 {
		b.pc = pc
	}
	switch {
	case contentLength >= 0:
		b.mode, b.left = bodySized, int64(contentLength)
		b.done = contentLength == 0
	case contentLength == -1:
		b.mode = bodyChunked
	default:
		b.mode = bodyToClose
	}
}

// reusable reports whether the connection can carry another exchange after
// this body: it was read to its end, and that end was not the connection's.
// A Line without a streamed body has nothing to say against reuse.
func (b *Body) reusable() bool {
	return b.l == nil || (b.done && b.mode != bodyToClose)
}

// Fd is the socket the body arrives on, for an event loop to wait on; -1
// when it has none (not a TCP connection).
func (b *Body) Fd() int {
	if b.pc == nil {
		return -1
	}
	return b.pc.fd
}

// SetNonBlocking switches the body's reads between waiting for bytes (the
// default) and returning openai.ErrWouldBlock when the socket is empty. It
// reports false, changing nothing, when the connection cannot be read that
// way. Between the two the caller must clear the read deadline it relies on
// or keep it: a blocking read honours the connection's deadline, a
// non-blocking one fails once Expire was called.
func (b *Body) SetNonBlocking(on bool) bool {
	if b.pc == nil {
		return false
	}
	b.pc.nonblock = on
	b.pc.drained, b.pc.expired = false, false
	return true
}

// Expire tells a non-blocking body that its exchange's deadline passed (the
// event loop enforces it; see ttfbConn.readNow): its reads fail with
// os.ErrDeadlineExceeded, as a blocking read past the deadline does.
func (b *Body) Expire() {
	if b.pc != nil && b.pc.nonblock {
		b.pc.expired = true
	}
}

// Readable tells a non-blocking body that its socket has new bytes (the
// event loop saw it readable): the next read makes a system call again.
func (b *Body) Readable() {
	if b.pc != nil {
		b.pc.drained = false
	}
}

// Read implements io.Reader: the body's bytes, without framing. It returns
// io.EOF at the body's end, io.ErrUnexpectedEOF when the connection ended
// before it, and openai.ErrWouldBlock in non-blocking mode.
func (b *Body) Read(p []byte) (int, error) {
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.done {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		q := p
		if b.mode == bodySized && int64(len(q)) > b.left {
			q = q[:b.left]
		}
		n, err := b.readRaw(q)
		out := n
		switch b.mode {
		case bodySized:
			b.left -= int64(n)
			b.done = b.left == 0
		case bodyChunked:
			out = b.decode(q[:n])
		}
		if out > 0 {
			return out, nil // an error comes again with the next read
		}
		if b.err != nil {
			return 0, b.err
		}
		if b.done {
			return 0, io.EOF
		}
		if err != nil {
			if err == io.EOF {
				if b.mode == bodyToClose {
					b.done = true
					return 0, io.EOF
				}
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		// Only framing was read: read on.
	}
}

// readRaw reads the connection's next bytes: first those fasthttp's header
// read left in the pooled reader, which then goes back to its pool.
func (b *Body) readRaw(p []byte) (int, error) {
	if br := b.l.br; br != nil {
		if br.Buffered() > 0 {
			return br.Read(p[:min(len(p), br.Buffered())])
		}
		b.l.releaseReader()
	}
	return b.conn.Read(p)
}

// decode removes the chunk framing from p in place and returns how many body
// bytes are left at its start.
func (b *Body) decode(p []byte) int {
	w := 0
	for i := 0; i < len(p); {
		c := p[i]
		switch b.state {
		case chunkSize:
			switch d := hexDigit(c); {
			case d >= 0:
				b.size, b.digit = b.size<<4|int64(d), true
				if b.size > maxChunkSize {
					b.err = errBadChunk
					return w
				}
			case b.digit && (c == ';' || c == ' ' || c == '\t' || c == '\r'):
				b.state = chunkExt
			case b.digit && c == '\n':
				b.endSizeLine()
			default:
				b.err = errBadChunk
				return w
			}
			i++
		case chunkExt:
			if c == '\n' {
				b.endSizeLine()
			}
			i++
		case chunkData:
			k := int(min(b.left, int64(len(p)-i)))
			w += copy(p[w:], p[i:i+k])
			i += k
			b.left -= int64(k)
			if b.left == 0 {
				b.state = chunkDataEnd
			}
		case chunkDataEnd:
			switch c {
			case '\r':
				b.state = chunkDataLF
			case '\n':
				b.state = chunkSize
			default:
				b.err = errBadChunk
				return w
			}
			i++
		case chunkDataLF:
			if c != '\n' {
				b.err = errBadChunk
				return w
			}
			b.state = chunkSize
			i++
		case chunkTrailer:
			switch c {
			case '\r':
				b.state = chunkTrailerLF
			case '\n':
				b.done = true
				return w
			default:
				b.state = chunkTrailerLn
			}
			i++
		case chunkTrailerLn:
			if c == '\n' {
				b.state = chunkTrailer
			}
			i++
		case chunkTrailerLF:
			if c != '\n' {
				b.err = errBadChunk
				return w
			}
			b.done = true
			return w
		}
	}
	return w
}

// endSizeLine starts the chunk a size line announced, or the trailer after
// the last (zero-sized) one.
func (b *Body) endSizeLine() {
	b.digit = false
	if b.size == 0 {
		b.state = chunkTrailer
		return
	}
	b.left, b.size, b.state = b.size, 0, chunkData
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// releaseReader gives the pooled reader back once it holds nothing more.
func (l *Line) releaseReader() {
	l.mu.Lock()
	br, hc := l.br, l.hc
	l.br = nil
	l.mu.Unlock()
	if br != nil && hc != nil {
		hc.ReleaseReader(br)
	}
}

var _ io.Reader = (*Body)(nil)
