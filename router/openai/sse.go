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
	r           io.Reader
	buf         []byte // read buffer; buf[start:end] is unread
	start, end  int
	data, name  []byte // current event, owned
	requireDone bool
	skipLF      bool // last line ended in CR
	released    bool
}

var sseReaderPool = sync.Pool{New: func() any { return &SSEReader{buf: make([]byte, 16<<10)} }}

// AcquireSSEReader returns a reader over r. When requireDone is true (chat and
// text completions) a body that ends without "[DONE]" is reported as
// io.ErrUnexpectedEOF; otherwise (the Responses API, which has no sentinel) the
// body's end is a clean io.EOF.
func AcquireSSEReader(r io.Reader, requireDone bool) *SSEReader {
	s := sseReaderPool.Get().(*SSEReader)
	s.r, s.start, s.end, s.requireDone, s.released, s.skipLF = r, 0, 0, requireDone, false, false
	return s
}

func (s *SSEReader) release() {
	if s.released {
		return
	}
	s.released = true
	s.r = nil
	s.data, s.name = s.data[:0], s.name[:0]
	if cap(s.buf) <= 64<<10 && cap(s.data) <= 64<<10 {
		sseReaderPool.Put(s)
	}
}

// Next implements EventReader. After it returns an error the reader
// must not be used again.
func (s *SSEReader) Next(ev *Event) error {
	err := s.next(ev)
	if err != nil {
		s.release()
	}
	return err
}

func (s *SSEReader) next(ev *Event) error {
	if s.released {
		return io.ErrClosedPipe
	}
	s.data, s.name = s.data[:0], s.name[:0]
	hasData := false
	for {
		line, err := s.line()
		if err != nil {
			if err == io.EOF && (hasData || len(s.name) > 0 || s.requireDone) {
				// The body ended inside an event (which the SSE spec says
				// is not dispatched: it may be half a JSON object), or a
				// chat stream ended without [DONE]: either way, cut short.
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 { // blank line: dispatch
			if !hasData {
				s.name = s.name[:0]
				continue
			}
			break
		}
		if line[0] == ':' { // comment
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if hasData {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			hasData = true
		case "event":
			s.name = append(s.name[:0], value...)
		}
		if len(s.data) > MaxEventBytes {
			return ErrEventTooLarge
		}
	}
	if bytes.Equal(bytes.TrimSpace(s.data), doneSentinel) {
		return io.EOF
	}
	if e := payloadError(s.data); e != nil {
		return e
	}
	ev.Name, ev.Data = s.name, s.data
	return nil
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

// Buffered reports whether a complete event is already buffered, so that the
// next call to Next will not block on the upstream. The relay uses it to write
// events that arrived together in one flush, without ever holding an event
// back while waiting for more.
func (s *SSEReader) Buffered() bool {
	b := s.buf[s.start:s.end]
	return bytes.Contains(b, lflf) || bytes.Contains(b, crcr) || bytes.Contains(b, crlfcrlf)
}

var (
	lflf     = []byte("\n\n")
	crcr     = []byte("\r\r")
	crlfcrlf = []byte("\r\n\r\n")
)

// line returns the next line without its terminator. The view is valid until
// the next call.
func (s *SSEReader) line() ([]byte, error) {
	for {
		if s.skipLF && s.start < s.end {
			// The previous line ended in CR; a following LF belongs to it.
			if s.buf[s.start] == '\n' {
				s.start++
			}
			s.skipLF = false
		}
		if !s.skipLF {
			if i := bytes.IndexAny(s.buf[s.start:s.end], "\r\n"); i >= 0 {
				line := s.buf[s.start : s.start+i]
				s.skipLF = s.buf[s.start+i] == '\r'
				s.start += i + 1
				return line, nil
			}
		}
		if err := s.fill(); err != nil {
			if err == io.EOF && s.start < s.end {
				line := s.buf[s.start:s.end]
				s.start = s.end
				return line, nil
			}
			return nil, err
		}
	}
}

// fill reads more of the body, compacting or growing the buffer.
func (s *SSEReader) fill() error {
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		s.start, s.end = 0, n
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= MaxEventBytes+1024 {
			return ErrEventTooLarge
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
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
