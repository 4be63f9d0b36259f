package oaiwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// ErrLineTooLong is returned when one SSE line exceeds MaxLineBytes.
var ErrLineTooLong = errors.New("oaiwire: SSE line too long")

// MaxLineBytes bounds one SSE line (one data payload), so a broken upstream
// cannot make the reader buffer without limit.
const MaxLineBytes = 8 << 20

// ErrorFunc builds the provider error for a stream payload whose JSON has a
// top-level "error" member. payload is only valid during the call.
type ErrorFunc func(payload []byte) *provider.Error

// Reader reads an OpenAI-style SSE stream ("data: {json}\n\n" … "data: [DONE]")
// and implements provider.EventReader. It accepts comment lines, "event:"
// lines, an optional space after the colon, CRLF line ends and multi-line
// data (joined with "\n"), as the OpenAI SDKs do.
//
// A payload with a top-level "error" member (or an array whose first element
// has one, as Google streams send) ends the stream with a *provider.Error.
//
// A Reader belongs to one answer and is not safe for concurrent use. The
// views it returns in an Event stay valid until the next call to Next.
type Reader struct {
	br      *bufio.Reader
	onError ErrorFunc
	data    []byte
	name    []byte
	long    []byte // holds a line longer than br's buffer
	p       fastjson.Parser
	err     error // sticky: once set, Next returns it forever
}

// NewReader returns a Reader over body. onError turns an in-stream error
// payload into a *provider.Error; nil uses OpenAIStreamError.
func NewReader(body io.Reader, onError ErrorFunc) *Reader {
	r := &Reader{}
	r.Reset(body, onError)
	return r
}

// Reset makes r read a new stream, keeping its buffers.
func (r *Reader) Reset(body io.Reader, onError ErrorFunc) {
	if r.br == nil {
		r.br = bufio.NewReaderSize(body, 4096)
	} else {
		r.br.Reset(body)
	}
	if onError == nil {
		onError = OpenAIStreamError
	}
	r.onError = onError
	r.data = r.data[:0]
	r.name = r.name[:0]
	r.err = nil
}

var (
	prefixDone  = []byte("[DONE]")
	fieldData   = []byte("data")
	fieldEvent  = []byte("event")
	quotedError = []byte(`"error"`)
)

// Next fills ev with the next event. It returns io.EOF after "[DONE]",
// io.ErrUnexpectedEOF when the body ends before it, and a *provider.Error
// when a payload carries a top-level "error".
func (r *Reader) Next(ev *provider.Event) error {
	if r.err != nil {
		return r.err
	}
	r.data = r.data[:0]
	r.name = r.name[:0]
	hasData := false
	for {
		line, err := r.readLine()
		if err != nil {
			// An event not closed by a blank line is incomplete: drop it,
			// as the SSE specification says, and report the early end.
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
			return err
		}
		if len(line) == 0 {
			if !hasData {
				r.name = r.name[:0]
				continue
			}
			return r.dispatch(ev)
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch {
		case bytes.Equal(field, fieldData):
			if hasData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			hasData = true
		case bytes.Equal(field, fieldEvent):
			r.name = append(r.name[:0], value...)
		}
		// id: and retry: mean nothing to a one-shot relay; ignored.
	}
}

func (r *Reader) dispatch(ev *provider.Event) error {
	if bytes.HasPrefix(r.data, prefixDone) {
		r.err = io.EOF
		return io.EOF
	}
	if bytes.Contains(r.data, quotedError) {
		if v, err := r.p.ParseBytes(r.data); err == nil {
			if a, _ := v.Array(); len(a) > 0 { // google.rpc errors come array-wrapped too
				v = a[0]
			}
			if e := v.Get("error"); e != nil && e.Type() != fastjson.TypeNull {
				perr := r.onError(r.data)
				r.err = perr
				return perr
			}
		}
	}
	ev.Name = r.name
	ev.Data = r.data
	return nil
}

// readLine returns one line without its line end. The view is valid until
// the next readLine.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = r.br.ReadSlice('\n')
			r.long = append(r.long, line...)
			if len(r.long) > MaxLineBytes {
				return nil, ErrLineTooLong
			}
		}
		line = r.long
	}
	if err != nil {
		// A final line without a newline cannot end an event; the caller
		// sees the end of the body.
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
