package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Entry is one stored answer, ready to be written in either mode. All three
// byte slices share one backing array and are read-only once the Entry is
// built: an Entry is immutable, safe for concurrent use, and may be written to
// any number of clients at once (fasthttp's SetBodyRaw is fine; never append to
// or modify the slices).
type Entry struct {
	// JSON is the complete non-streamed answer (a chat.completion object).
	// Stored from a JSON answer it is the upstream body byte for byte; built
	// from a stream it is assembled.
	JSON []byte
	// SSE is the same answer as an SSE stream: per choice a role chunk, a
	// content chunk, a refusal chunk, one chunk per tool call, a finish chunk;
	// then "data: [DONE]". For a client that did not ask for usage.
	SSE []byte
	// SSEUsage is SSE with the usage chunk ("choices":[] and the stored usage)
	// just before [DONE], for stream_options.include_usage. When the stored
	// answer had no usage it equals SSE.
	SSEUsage []byte
	// Stored is when the answer was received; the router derives Age from it.
	Stored time.Time

	size int64 // bytes of the shared backing array; 0 for a hand-built Entry
}

// entryOverhead approximates the per-entry memory beyond the byte slices (the
// Entry, the store's item and map slot), so that many tiny answers cannot
// exceed cache.max_bytes by much.
const entryOverhead = 256

// Cost is what the entry counts against cache.max_bytes.
func (e *Entry) Cost() int64 {
	if e.size > 0 {
		return e.size + entryOverhead
	}
	return int64(cap(e.JSON)+cap(e.SSE)+cap(e.SSEUsage)) + entryOverhead
}

// Age is how long ago the answer was stored, for the Age header (whole
// seconds, rounded down, as RFC 9111 asks).
func (e *Entry) Age(now time.Time) time.Duration {
	d := now.Sub(e.Stored)
	if d < 0 {
		return 0
	}
	return d.Truncate(time.Second)
}

// NewResponsesEntry stores a complete Responses API answer: resp, the
// Response object, answers JSON requests, and events, the same answer as the
// Responses event stream (router/responses.Converter), answers streamed ones.
// The Responses API has no usage option, so SSE and SSEUsage are one. Both are
// copied into one backing array.
func NewResponsesEntry(resp, events []byte) *Entry {
	buf := make([]byte, 0, len(resp)+len(events))
	buf = append(append(buf, resp...), events...)
	sse := buf[len(resp):]
	return &Entry{JSON: buf[:len(resp):len(resp)], SSE: sse, SSEUsage: sse, Stored: time.Now(), size: int64(cap(buf))}
}

// SSEBody returns the stream form a client asked for.
func (e *Entry) SSEBody(includeUsage bool) []byte {
	if includeUsage {
		return e.SSEUsage
	}
	return e.SSE
}

type completion struct {
	ID                json.RawMessage `json:"id"`
	Object            string          `json:"object"`
	Created           json.RawMessage `json:"created"`
	Model             json.RawMessage `json:"model"`
	SystemFingerprint json.RawMessage `json:"system_fingerprint"`
	ServiceTier       json.RawMessage `json:"service_tier"`
	Choices           []struct {
		Index        *int                       `json:"index"`
		Message      map[string]json.RawMessage `json:"message"`
		Logprobs     json.RawMessage            `json:"logprobs"`
		FinishReason *string                    `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
	Error json.RawMessage `json:"error"`
}

type toolCall struct {
	ID       json.RawMessage `json:"id"`
	Type     string          `json:"type"`
	Function struct {
		Name      json.RawMessage `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

func isNull(r json.RawMessage) bool { return len(r) == 0 || string(r) == "null" }

func isString(r json.RawMessage) bool { return len(r) >= 2 && r[0] == '"' }

func orDefault(r json.RawMessage, d string) []byte {
	if isNull(r) {
		return []byte(d)
	}
	return r
}

// NewEntryFromJSON builds an entry from a complete non-streamed 200 answer
// (a chat.completion object) and renders its SSE forms. body is copied; the
// caller keeps ownership of it.
//
// It returns ErrIncomplete when a choice has no finish_reason or the body is an
// error, ErrInvalidJSON when body is not a chat.completion, and ErrUnsupported
// for answers whose stream form it cannot render faithfully: logprobs, audio,
// non-function tool calls, non-empty annotations, or any other non-null message
// field it does not know. Such answers are simply not cached.
func NewEntryFromJSON(body []byte) (*Entry, error) {
	var c completion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if !isNull(c.Error) {
		return nil, ErrIncomplete
	}
	if c.Object != "" && c.Object != "chat.completion" {
		return nil, fmt.Errorf("%w: object %q", ErrInvalidJSON, c.Object)
	}
	if len(c.Choices) == 0 {
		return nil, fmt.Errorf("%w: no choices", ErrIncomplete)
	}
	// An SSE event is one line: a pretty-printed upstream body must not carry
	// its newlines into the stream form.
	if !isNull(c.Usage) {
		var u bytes.Buffer
		if err := json.Compact(&u, c.Usage); err != nil {
			return nil, fmt.Errorf("%w: usage: %v", ErrInvalidJSON, err)
		}
		c.Usage = u.Bytes()
	}

	var hdr []byte
	hdr = append(hdr, `data: {"id":`...)
	hdr = append(hdr, orDefault(c.ID, `""`)...)
	hdr = append(hdr, `,"object":"chat.completion.chunk","created":`...)
	hdr = append(hdr, orDefault(c.Created, `0`)...)
	hdr = append(hdr, `,"model":`...)
	hdr = append(hdr, orDefault(c.Model, `""`)...)
	if !isNull(c.SystemFingerprint) {
		hdr = append(hdr, `,"system_fingerprint":`...)
		hdr = append(hdr, c.SystemFingerprint...)
	}
	if !isNull(c.ServiceTier) {
		hdr = append(hdr, `,"service_tier":`...)
		hdr = append(hdr, c.ServiceTier...)
	}
	hdr = append(hdr, `,"choices":[`...)

	var sse []byte
	chunk := func(index int, delta []byte, finish []byte) {
		sse = append(sse, hdr...)
		sse = append(sse, `{"index":`...)
		sse = strconv.AppendInt(sse, int64(index), 10)
		sse = append(sse, `,"delta":`...)
		sse = append(sse, delta...)
		sse = append(sse, `,"logprobs":null,"finish_reason":`...)
		sse = append(sse, finish...)
		sse = append(sse, "}]}\n\n"...)
	}
	var delta []byte
	for pos, ch := range c.Choices {
		index := pos
		if ch.Index != nil {
			index = *ch.Index
		}
		if ch.FinishReason == nil || *ch.FinishReason == "" {
			return nil, fmt.Errorf("%w: choice %d has no finish_reason", ErrIncomplete, index)
		}
		if !isNull(ch.Logprobs) {
			return nil, fmt.Errorf("%w: logprobs", ErrUnsupported)
		}
		var content, refusal, tools json.RawMessage
		for name, v := range ch.Message {
			switch name {
			case "role":
			case "content":
				content = v
			case "refusal":
				refusal = v
			case "tool_calls":
				tools = v
			case "annotations":
				if !isNull(v) && string(bytes.TrimSpace(v)) != "[]" {
					return nil, fmt.Errorf("%w: annotations", ErrUnsupported)
				}
			default:
				if !isNull(v) {
					return nil, fmt.Errorf("%w: message field %q", ErrUnsupported, name)
				}
			}
		}
		if !isNull(content) && !isString(content) {
			return nil, fmt.Errorf("%w: content is not a string", ErrUnsupported)
		}
		if !isNull(refusal) && !isString(refusal) {
			return nil, fmt.Errorf("%w: refusal is not a string", ErrInvalidJSON)
		}
		var calls []toolCall
		if !isNull(tools) {
			if err := json.Unmarshal(tools, &calls); err != nil {
				return nil, fmt.Errorf("%w: tool_calls: %v", ErrInvalidJSON, err)
			}
		}

		// Role chunk: content "" when the message has text, null otherwise
		// (as OpenAI streams tool calls).
		delta = append(delta[:0], `{"role":"assistant","content":`...)
		if isNull(content) {
			delta = append(delta, `null`...)
		} else {
			delta = append(delta, `""`...)
		}
		delta = append(delta, `,"refusal":null}`...)
		chunk(index, delta, []byte("null"))
		if isString(content) && string(content) != `""` {
			delta = append(append(append(delta[:0], `{"content":`...), content...), '}')
			chunk(index, delta, []byte("null"))
		}
		if isString(refusal) {
			delta = append(append(append(delta[:0], `{"refusal":`...), refusal...), '}')
			chunk(index, delta, []byte("null"))
		}
		for j, tc := range calls {
			if tc.Type != "function" || !isString(tc.Function.Name) {
				return nil, fmt.Errorf("%w: tool call type %q", ErrUnsupported, tc.Type)
			}
			delta = append(delta[:0], `{"tool_calls":[{"index":`...)
			delta = strconv.AppendInt(delta, int64(j), 10)
			delta = append(delta, `,"id":`...)
			delta = append(delta, orDefault(tc.ID, `""`)...)
			delta = append(delta, `,"type":"function","function":{"name":`...)
			delta = append(delta, tc.Function.Name...)
			delta = append(delta, `,"arguments":`...)
			delta = append(delta, orDefault(tc.Function.Arguments, `""`)...)
			delta = append(delta, `}}]}`...)
			chunk(index, delta, []byte("null"))
		}
		chunk(index, []byte("{}"), appendJSONString(nil, *ch.FinishReason))
	}

	const done = "data: [DONE]\n\n"
	var usageChunk []byte
	if !isNull(c.Usage) {
		usageChunk = append(usageChunk, hdr...) // ends with `"choices":[`
		usageChunk = append(usageChunk, `],"usage":`...)
		usageChunk = append(usageChunk, c.Usage...)
		usageChunk = append(usageChunk, "}\n\n"...)
	}
	return newEntry(body, sse, usageChunk, done), nil
}

// newEntry lays JSON, SSE and SSEUsage out in one allocation.
func newEntry(js, chunks, usageChunk []byte, done string) *Entry {
	nSSE := len(chunks) + len(done)
	nUsage := 0
	if usageChunk != nil {
		nUsage = len(chunks) + len(usageChunk) + len(done)
	}
	buf := make([]byte, 0, len(js)+nSSE+nUsage)
	buf = append(buf, js...)
	buf = append(buf, chunks...)
	buf = append(buf, done...)
	if usageChunk != nil {
		buf = append(buf, chunks...)
		buf = append(buf, usageChunk...)
		buf = append(buf, done...)
	}
	e := &Entry{Stored: time.Now(), size: int64(cap(buf))}
	a, b := len(js), len(js)+nSSE
	e.JSON = buf[:a:a]
	e.SSE = buf[a:b:b]
	if usageChunk != nil {
		e.SSEUsage = buf[b:len(buf):len(buf)]
	} else {
		e.SSEUsage = e.SSE
	}
	return e
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				const hex = "0123456789abcdef"
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// sortedIndexes returns the keys of m in ascending order.
func sortedIndexes[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
