package bedrock

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/valyala/fastjson"

	sse "github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// streamReader turns a ConverseStream answer (AWS event-stream frames) into
// chat.completion.chunk events, one per frame as it arrives. It belongs to one
// answer and is not safe for concurrent use.
type streamReader struct {
	br      *bufio.Reader
	dec     *eventstream.Decoder
	payload []byte
	out     []byte
	head    []byte // `{"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":`
	p       fastjson.Parser
	// tools maps a contentBlockIndex to its OpenAI tool_calls index.
	tools   []toolSlot
	stopped bool  // messageStop seen: the end of the body is a clean end
	err     error // sticky

	// Eager mode (a parked stream's event loop reads a non-blocking body):
	// a frame is gathered whole in frame — across reads that return
	// sse.ErrWouldBlock — and decoded from there, since the decoder loses its
	// place on a read that fails mid-frame.
	eager bool
	frame []byte
	fr    bytes.Reader
}

// maxFrameBytes bounds one event-stream frame gathered in eager mode: a
// prelude announcing more is a broken stream, not an answer.
const maxFrameBytes = 16 << 20

// Eager implements sse.Resumable: Next then returns sse.ErrWouldBlock where
// its body has nothing more for now, and goes on from there when called again.
func (r *streamReader) Eager(on bool) { r.eager = on }

// gather reads the rest of the next frame into r.frame; it returns
// sse.ErrWouldBlock (keeping what it read) when the body has nothing more
// now, and the body's error otherwise.
func (r *streamReader) gather() error {
	for {
		need := preludeLen
		if len(r.frame) >= preludeLen {
			// Judge the prelude as the decoder does, before gathering the
			// length it announces: a corrupt one is the stream's error now.
			if crc32.ChecksumIEEE(r.frame[:8]) != binary.BigEndian.Uint32(r.frame[8:12]) {
				return fmt.Errorf("%w: prelude checksum mismatch", ErrStream)
			}
			need = int(binary.BigEndian.Uint32(r.frame))
			if need < preludeLen+4 || need > maxFrameBytes {
				return fmt.Errorf("%w: frame of %d bytes", ErrStream, need)
			}
			if len(r.frame) == need {
				return nil
			}
		}
		if cap(r.frame) < need {
			r.frame = append(make([]byte, 0, max(need, 2*cap(r.frame))), r.frame...)
		}
		n, err := r.br.Read(r.frame[len(r.frame):need])
		r.frame = r.frame[:len(r.frame)+n]
		if n > 0 {
			continue
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		if err == io.EOF && len(r.frame) >= preludeLen {
			err = io.ErrUnexpectedEOF // cut inside a frame the prelude announced
		}
		return err
	}
}

// preludeLen is an event-stream frame's prelude: total length, headers
// length, and the prelude's CRC.
const preludeLen = 12

type toolSlot struct{ block, index int }

func newStreamReader(body io.Reader, model string, created int64) *streamReader {
	r := &streamReader{
		// The decoder reads a few bytes at a time; the buffer turns that into
		// one read per arriving network chunk. bufio returns what it has
		// without waiting to fill, so events are not delayed.
		br:  bufio.NewReaderSize(body, 16<<10),
		dec: eventstream.NewDecoder(),
	}
	h := append([]byte(nil), `{"id":"`...)
	h = appendID(h)
	h = append(h, `","object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, created, 10)
	h = append(h, `,"model":`...)
	h = sse.AppendJSONString(h, []byte(model))
	r.head = append(h, `,"choices":`...)
	return r
}

func headerString(m *eventstream.Message, name string) string {
	if v, ok := m.Headers.Get(name).(eventstream.StringValue); ok {
		return string(v)
	}
	return ""
}

// Buffered reports whether a whole event-stream frame is already buffered,
// so Next will not wait on the network (the relay batches such events into
// one write). A frame's prelude starts with its total length.
func (r *streamReader) Buffered() bool {
	if r.eager && len(r.frame) > 0 {
		return len(r.frame) >= preludeLen && len(r.frame) == int(binary.BigEndian.Uint32(r.frame))
	}
	n := r.br.Buffered()
	if n < 4 {
		return false
	}
	b, err := r.br.Peek(4)
	return err == nil && n >= int(binary.BigEndian.Uint32(b))
}

// Next returns the next chunk. It ends with io.EOF when the body ends after
// messageStop, io.ErrUnexpectedEOF when it ends before, a *provider.Error for
// exception and error frames, and ErrStream for frames that fail their CRC.
func (r *streamReader) Next(ev *provider.Event) error {
	if r.err != nil {
		return r.err
	}
	for {
		var src io.Reader = r.br
		if r.eager {
			switch err := r.gather(); {
			case err == sse.ErrWouldBlock:
				return err
			case err == io.EOF:
				// The body ended at a frame's start or inside its prelude: the
				// decoder, given nothing, says so as it would reading the body.
				r.frame = r.frame[:0]
			case err != nil:
				r.err = err
				return err
			}
			r.fr.Reset(r.frame)
			r.frame = r.frame[:0]
			src = &r.fr
		}
		msg, err := r.dec.Decode(src, r.payload[:0])
		if err != nil {
			switch {
			case errors.Is(err, io.EOF) && r.stopped:
				r.err = io.EOF
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				r.err = io.ErrUnexpectedEOF
			default:
				r.err = fmt.Errorf("%w: %v", ErrStream, err)
			}
			return r.err
		}
		if cap(msg.Payload) > cap(r.payload) {
			r.payload = msg.Payload[:0]
		}
		switch headerString(&msg, ":message-type") {
		case "event":
			ok, err := r.event(headerString(&msg, ":event-type"), msg.Payload)
			if err != nil {
				r.err = err
				return err
			}
			if ok {
				ev.Name = nil
				ev.Data = r.out
				return nil
			}
		case "exception":
			var m []byte
			if v, err := r.p.ParseBytes(msg.Payload); err == nil {
				m = v.GetStringBytes("message")
			}
			r.err = classify(headerString(&msg, ":exception-type"), 0, string(m))
			return r.err
		case "error":
			r.err = classify(headerString(&msg, ":error-code"), 0, headerString(&msg, ":error-message"))
			return r.err
		}
		// Unknown message types are skipped.
	}
}

// event translates one event frame into r.out; ok is false for frames that
// produce no chunk (contentBlockStop, reasoning deltas, unknown events).
func (r *streamReader) event(typ string, payload []byte) (ok bool, err error) {
	switch typ {
	case "messageStart", "contentBlockStart", "contentBlockDelta", "messageStop", "metadata":
	default:
		return false, nil // contentBlockStop and events added later
	}
	v, err := r.p.ParseBytes(payload)
	if err != nil {
		return false, fmt.Errorf("%w: %s payload: %v", ErrStream, typ, err)
	}
	out := append(r.out[:0], r.head...)
	switch typ {
	case "messageStart":
		out = append(out, `[{"index":0,"delta":{"role":"assistant","content":""}`...)
	case "contentBlockStart":
		tu := v.Get("start", "toolUse")
		if tu == nil {
			return false, nil
		}
		idx := r.toolIndex(v.GetInt("contentBlockIndex"))
		out = append(out, `[{"index":0,"delta":{"tool_calls":[{"index":`...)
		out = strconv.AppendInt(out, int64(idx), 10)
		out = append(out, `,"id":`...)
		out = sse.AppendJSONString(out, tu.GetStringBytes("toolUseId"))
		out = append(out, `,"type":"function","function":{"name":`...)
		out = sse.AppendJSONString(out, tu.GetStringBytes("name"))
		out = append(out, `,"arguments":""}}]}`...)
	case "contentBlockDelta":
		d := v.Get("delta")
		if d == nil {
			return false, nil
		}
		if t := d.Get("text"); t != nil {
			out = append(out, `[{"index":0,"delta":{"content":`...)
			out = sse.AppendJSONString(out, t.GetStringBytes())
			out = append(out, '}')
		} else if tu := d.Get("toolUse"); tu != nil {
			idx := r.toolIndex(v.GetInt("contentBlockIndex"))
			out = append(out, `[{"index":0,"delta":{"tool_calls":[{"index":`...)
			out = strconv.AppendInt(out, int64(idx), 10)
			out = append(out, `,"function":{"arguments":`...)
			out = sse.AppendJSONString(out, tu.GetStringBytes("input"))
			out = append(out, `}}]}`...)
		} else {
			return false, nil // reasoningContent and other delta kinds
		}
	case "messageStop":
		r.stopped = true
		out = append(out, `[{"index":0,"delta":{}`...)
		out = append(out, `,"logprobs":null,"finish_reason":"`...)
		out = append(out, finishReason(v.GetStringBytes("stopReason"))...)
		out = append(out, `"}]}`...)
		r.out = out
		return true, nil
	case "metadata":
		u := v.Get("usage")
		if u == nil {
			return false, nil
		}
		out = append(out, `[],"usage":`...)
		out = appendUsage(out, u)
		r.out = append(out, '}')
		return true, nil
	}
	out = append(out, `,"logprobs":null,"finish_reason":null}]}`...)
	r.out = out
	return true, nil
}

// toolIndex returns the OpenAI tool_calls index of a content block, giving the
// next free index to a block seen for the first time.
func (r *streamReader) toolIndex(block int) int {
	for _, s := range r.tools {
		if s.block == block {
			return s.index
		}
	}
	idx := len(r.tools)
	r.tools = append(r.tools, toolSlot{block: block, index: idx})
	return idx
}
