package openai

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/valyala/fastjson"
)

// ErrEventTooLarge is returned when one server-sent event exceeds MaxEventBytes.
var ErrEventTooLarge = errors.New("openai: server-sent event too large")

// ErrWouldBlock is what a body read in non-blocking mode returns when the
// socket holds nothing more for now (router/upstream's pooled connections,
// under a parked stream's event loop). An SSEReader returns it from Next with
// its state kept — the event read so far, the buffer — and Next, called again
// once the socket is readable, goes on where it stopped. It is a temporary
// net.Error, so crypto/tls passes it up without making it sticky.
var ErrWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "no bytes ready without waiting" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// MaxEventBytes bounds one event's size, so a broken upstream cannot make the
// reader buffer without limit.
const MaxEventBytes = 4 << 20

// SSEReader reads server-sent events in OpenAI's dialect from an upstream body
// and yields one Event per event, as soon as its terminating blank
// line arrives: nothing is buffered beyond the event being read.
//
// It accepts what the official SDKs accept: comment lines, optional "event:"
// lines, an optional space after the colon, multi-line data joined with "\n",
// and LF, CRLF or CR line endings. "data: [DONE]" ends the stream (io.EOF).
// A payload whose JSON has a top-level "error" member becomes a
// *APIError. An SSEReader is not safe for concurrent use; obtain one with
// AcquireSSEReader and it returns itself to the pool after Next has returned
// a non-nil error. It allocates nothing in steady state.
type SSEReader struct {
	r          io.Reader
	buf        []byte // read buffer; buf[start:end] is unread
	start, end int
	// The current event's data is parsed in place: buf[dStart:dEnd] (dStart
	// < 0 when the event has no data line yet). A later data line of the same
	// event is moved down to join it, so a payload is never copied out.
	dStart, dEnd int
	name         []byte // current event's name, owned (names are short)
	requireDone  bool
	skipLF       bool // last line ended in CR
	released     bool
	resume       bool    // Next returned ErrWouldBlock mid-event: go on from here
	bufp         *[]byte // buf's pool slot while buf is a pooled sseBufSize buffer
	eager        bool    // reads are made only when bytes are there (see Eager)
}

// sseBufSize is a reader's initial buffer; it grows (doubling) for a larger
// event. Why 4 KiB? The buffer is held for a stream's whole life, and chat
// chunks are a few hundred bytes; 4 KiB matches the upstream read buffer.
const sseBufSize = 4 << 10

// parkSize is the read a reader waits in when it has nothing unread. Why?
// A stream spends its life parked in that read, and every parked stream
// held a 4 KiB buffer for the few hundred bytes of its next event (issue
// 16: memory per stream). Parked, the reader reads into a small pooled
// buffer (parkPool) and takes a 4 KiB one only once bytes arrive; the rest
// of an event longer than parkSize comes from the upstream connection's own
// read buffer, which already holds it — a copy, not another system call.
const parkSize = 512

var sseBufPool = sync.Pool{New: func() any { b := make([]byte, sseBufSize); return &b }}

// parkPool holds the small buffers a waiting read receives into. Why not an
// array in the reader? The reader lives as long as its stream, and a parked
// stream's reader (Eager) never makes that read: 512 bytes per stream for
// nothing.
var parkPool = sync.Pool{New: func() any { b := make([]byte, parkSize); return &b }}

// ssePoolMax is the largest buffer a released reader keeps: a reader that
// grew for one huge event must not make every later stream hold that much.
const ssePoolMax = 16 << 10

var sseReaderPool = sync.Pool{New: func() any { return new(SSEReader) }}

// AcquireSSEReader returns a reader over r. When requireDone is true (chat and
// text completions) a body that ends without "[DONE]" is reported as
// io.ErrUnexpectedEOF; otherwise (the Responses API, which has no sentinel) the
// body's end is a clean io.EOF.
func AcquireSSEReader(r io.Reader, requireDone bool) *SSEReader {
	s := sseReaderPool.Get().(*SSEReader)
	s.r, s.start, s.end, s.dStart, s.dEnd = r, 0, 0, -1, 0
	s.requireDone, s.released, s.skipLF, s.resume, s.eager = requireDone, false, false, false, false
	return s
}

func (s *SSEReader) release() {
	if s.released {
		return
	}
	s.released = true
	s.r = nil
	s.name = s.name[:0]
	s.dropBuf()
	if cap(s.name) <= 1<<10 {
		sseReaderPool.Put(s)
	}
}

// Next implements EventReader. After it returns an error other than
// ErrWouldBlock the reader must not be used again (it is back in the pool).
//
// Why is the release done at each error return rather than in a wrapper
// around the parser? A stream's goroutine spends its life parked in the read
// under Next, and every frame on that chain counts against the stack the GC
// may halve (see the relay's advance): one frame fewer here is 48 bytes on
// every live stream's path.
func (s *SSEReader) Next(ev *Event) error {
	if s.released {
		return io.ErrClosedPipe
	}
	if !s.resume {
		s.name = s.name[:0]
		s.dStart, s.dEnd = -1, 0
	}
	s.resume = false
	for {
		ls, le, ok := s.cut()
		if !ok {
			err := s.fill()
			if err == nil {
				continue
			}
			if err == ErrWouldBlock {
				s.resume = true
				return err
			}
			if ls, le, err = s.last(err); err != nil {
				return s.fail(err)
			}
		}
		if ls == le { // blank line: dispatch
			if s.dStart < 0 {
				s.name = s.name[:0]
				continue
			}
			return s.dispatch(ev)
		}
		if err := s.field(ls, le); err != nil {
			return s.fail(err)
		}
	}
}

// last is what Next makes of fill's error err: the body's last line when it
// ended unterminated, else the stream's end — io.ErrUnexpectedEOF when the
// body ended inside an event (which the SSE spec says is not dispatched: it
// may be half a JSON object) or a chat stream ended without [DONE].
func (s *SSEReader) last(err error) (ls, le int, _ error) {
	if err == io.EOF && s.start < s.end {
		ls, le = s.start, s.end
		s.start = s.end
		return ls, le, nil
	}
	if err == io.EOF && (s.dStart >= 0 || len(s.name) > 0 || s.requireDone) {
		err = io.ErrUnexpectedEOF
	}
	return 0, 0, err
}

// field takes in the non-blank line buf[ls:le]: a comment, a data line
// (joined in place to the event's data so far) or an event name.
func (s *SSEReader) field(ls, le int) error {
	line := s.buf[ls:le]
	if line[0] == ':' { // comment
		return nil
	}
	field, vs := line, le
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, vs = line[:i], ls+i+1
		if vs < le && s.buf[vs] == ' ' {
			vs++
		}
	}
	switch string(field) {
	case "data":
		if s.dStart < 0 {
			s.dStart, s.dEnd = vs, le
			break
		}
		// Join in place: the value lies past this line's "data:" field,
		// so it always fits behind the data so far.
		s.buf[s.dEnd] = '\n'
		s.dEnd += 1 + copy(s.buf[s.dEnd+1:], s.buf[vs:le])
	case "event":
		s.name = append(s.name[:0], s.buf[vs:le]...)
	}
	if s.dEnd-s.dStart > MaxEventBytes {
		return ErrEventTooLarge
	}
	return nil
}

// dispatch ends the event Next was reading: [DONE] (io.EOF), an in-stream
// error, or the event itself in ev.
func (s *SSEReader) dispatch(ev *Event) error {
	data := s.buf[s.dStart:s.dEnd:s.dEnd] // capped: an append must not overwrite unread bytes
	if bytes.Equal(bytes.TrimSpace(data), doneSentinel) {
		return s.fail(io.EOF)
	}
	if e := payloadError(data); e != nil {
		return s.fail(e)
	}
	ev.Name, ev.Data = s.name, data
	return nil
}

// fail releases the reader (Next returned its last result) and returns err.
func (s *SSEReader) fail(err error) error {
	s.release()
	return err
}

var doneSentinel = []byte("[DONE]")

// Event is one server-sent event in OpenAI's format.
type Event struct {
	// Name is the SSE event name; empty for chat and text completions, set for
	// the Responses API ("response.output_text.delta", …).
	Name []byte
	// Data is one JSON payload.
	Data []byte
}

// EventReader yields the events of one streamed answer. Next fills ev with views
// that stay valid until the following call. It returns io.EOF after a clean end
// (the "[DONE]" sentinel, which is consumed and not returned, or the natural end
// of an endpoint that has none), io.ErrUnexpectedEOF when the stream stopped
// early, and an error (an *APIError, or an adapter's own) when the cloud
// reported an error inside the stream.
type EventReader interface {
	Next(ev *Event) error
	// Buffered reports whether the next event is already complete in the
	// reader's buffer, so Next will not wait on the upstream: the relay then
	// writes it with the one before, in one flush.
	Buffered() bool
}

// Resumable is an EventReader an event loop can drive: after Eager(true),
// its Next reads only what its body holds and returns ErrWouldBlock, state
// kept, where it would wait. SSEReader is one (and readers that wrap one
// without state of their own between events, such as Azure's filter).
type Resumable interface {
	EventReader
	Eager(on bool)
}

// Buffered reports whether a complete event is already buffered, so that the
// next call to Next will not block on the upstream. The relay uses it to write
// events that arrived together in one flush, without ever holding an event
// back while waiting for more. It is exact for the buffered bytes: a blank
// line counts only after a data line (a keep-alive comment followed by a
// blank line dispatches nothing, so Next would still wait), and it scans
// each buffered line once, without allocating.
func (s *SSEReader) Buffered() bool {
	if s.released {
		return false
	}
	b := s.buf[s.start:s.end]
	if s.skipLF && len(b) > 0 && b[0] == '\n' {
		b = b[1:]
	}
	data := false
	for {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			return false
		}
		line := b[:i]
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
		switch {
		case len(line) == 0:
			if data {
				return true
			}
		case len(line) >= 4 && string(line[:4]) == "data" && (len(line) == 4 || line[4] == ':'):
			data = true
		}
	}
}

// cut returns the next complete line in the buffer (without its terminator)
// as offsets into buf, valid until the next fill; ok is false when the
// buffer holds no complete line. It never reads: Next calls fill itself, so
// the read a stream parks in is one frame shallower.
func (s *SSEReader) cut() (ls, le int, ok bool) {
	if s.skipLF && s.start < s.end {
		// The previous line ended in CR; a following LF belongs to it.
		if s.buf[s.start] == '\n' {
			s.start++
		}
		s.skipLF = false
	}
	if s.skipLF {
		return 0, 0, false
	}
	i := bytes.IndexAny(s.buf[s.start:s.end], "\r\n")
	if i < 0 {
		return 0, 0, false
	}
	ls, le = s.start, s.start+i
	s.skipLF = s.buf[le] == '\r'
	s.start = le + 1
	return ls, le, true
}

// takeBuf gives the reader an empty pooled buffer.
func (s *SSEReader) takeBuf() {
	s.bufp = sseBufPool.Get().(*[]byte)
	s.buf, s.start, s.end = *s.bufp, 0, 0
}

// dropBuf gives the buffer back: a pooled one to its pool; one grown for
// a large event to the GC.
func (s *SSEReader) dropBuf() {
	if s.bufp != nil {
		sseBufPool.Put(s.bufp)
	}
	s.buf, s.bufp, s.start, s.end = nil, nil, 0, 0
}

// fill reads more of the body, compacting the buffer (keeping the current
// event's data) or growing it. With nothing unread it parks: the buffer goes
// back to its pool and the read waits in a park buffer (see parkSize).
func (s *SSEReader) fill() error {
	if s.start == s.end && s.dStart < 0 {
		return s.parked()
	}
	keep := s.start
	if s.dStart >= 0 {
		keep = s.dStart
	}
	if keep > 0 {
		n := copy(s.buf, s.buf[keep:s.end])
		s.start -= keep
		s.end = n
		if s.dStart >= 0 {
			s.dStart -= keep
			s.dEnd -= keep
		}
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= MaxEventBytes+1024 {
			return ErrEventTooLarge
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		if s.bufp != nil {
			sseBufPool.Put(s.bufp)
		}
		s.buf, s.bufp = nb, nil
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Eager tells the reader that its body is read only once bytes are there
// (a parked stream's event loop, over a non-blocking body): with nothing
// unread it then reads straight into a pooled buffer, one read for an event
// of up to sseBufSize, and gives the buffer back when the read finds nothing.
func (s *SSEReader) Eager(on bool) { s.eager = on }

// parked waits for the body's next bytes with no buffer held, then moves
// them into a pooled buffer.
func (s *SSEReader) parked() error {
	s.dropBuf()
	if s.eager {
		s.takeBuf()
		n, err := s.r.Read(s.buf)
		s.end = n
		if n > 0 {
			return nil
		}
		s.dropBuf()
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	pb := parkPool.Get().(*[]byte)
	defer parkPool.Put(pb)
	for range 100 {
		n, err := s.r.Read(*pb)
		if n > 0 {
			s.takeBuf()
			s.end = copy(s.buf, (*pb)[:n])
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// payloadError reports an in-stream error event ({"error":{…}}, or Google's
// array-wrapped form) as an *APIError. It is cheap on ordinary chunks: only a
// payload containing the bare token "error" as a JSON string is parsed.
func payloadError(data []byte) *APIError {
	if !bytes.Contains(data, errorKey) {
		return nil
	}
	var p fastjson.Parser
	if _, ok := ParseErrorBody(&p, data); !ok {
		return nil
	}
	return StreamError(data)
}

var errorKey = []byte(`"error"`)

// AppendEvent appends one SSE event (an optional "event:" line, one "data:"
// line and the blank line) to dst. data must not contain newlines, which holds
// for compact JSON.
func AppendEvent(dst, name, data []byte) []byte {
	if len(name) > 0 {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}

// DoneEvent is the sentinel that ends chat and text completion streams.
var DoneEvent = []byte("data: [DONE]\n\n")
