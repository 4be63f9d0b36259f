package responses

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/openai"
)

// Stream turns a Chat Completions stream into the Responses event stream, one chat chunk at a
// time: response.created and response.in_progress first, then for each output item
// output_item.added, its content events (content_part.added, output_text.delta/.done,
// content_part.done; reasoning_text.delta/.done; function_call_arguments.delta/.done or
// custom_tool_call_input.delta/.done) and output_item.done, and last response.completed (or
// response.incomplete after a length stop) with usage — or response.failed when the upstream
// fails mid-way. Every event carries type and sequence_number; lifecycle events nest the Response
// object under "response". This is the sequence OpenAI sends and Codex parses.
//
// Output is complete SSE frames ("event: <type>\ndata: <json>\n\n") appended to dst; SplitEvent
// cuts them apart again. A Stream is not safe for concurrent use; Reset it to reuse it (buffers
// are kept: steady-state streaming allocates nothing).
type Stream struct {
	t        *Translator
	p        fastjson.Parser
	begun    bool
	finished bool
	seq      int64
	created  int64
	respID   []byte
	model    []byte
	next     int // next output_index

	// the open text-like item (reasoning or message): at most one at a time
	cur     itemKind
	curIdx  int
	curID   []byte
	curText []byte

	tools  []toolState
	items  []byte // rendered closed items, comma-separated, in output_index order
	finish []byte
	usage  usage
	ev     []byte // the event being built
	obj    []byte // a Response object being built
}

type itemKind uint8

const (
	itemNone itemKind = iota
	itemReasoning
	itemMessage
)

type toolState struct {
	chatIndex int64
	outIdx    int
	id        []byte
	callID    []byte
	name      []byte
	args      []byte
	custom    bool
	done      bool
}

// Reset prepares s for a new exchange translated by t (after t.AppendChatRequest).
func (s *Stream) Reset(t *Translator) {
	s.t = t
	s.begun, s.finished = false, false
	s.seq, s.created, s.next = 0, 0, 0
	s.respID = s.respID[:0]
	s.model = append(s.model[:0], t.model...)
	s.cur, s.curIdx = itemNone, 0
	s.curID, s.curText = s.curID[:0], s.curText[:0]
	s.tools = s.tools[:0]
	s.items = s.items[:0]
	s.finish = s.finish[:0]
	s.usage = usage{}
}

// Finished reports whether a terminal event (completed, incomplete or failed) was emitted.
func (s *Stream) Finished() bool { return s.finished }

// Begun reports whether any event was emitted, i.e. whether an upstream failure must now end the
// stream with response.failed rather than an HTTP error.
func (s *Stream) Begun() bool { return s.begun }

// start begins an event: `event: <typ>\ndata: {"type":"<typ>","sequence_number":N`.
func (s *Stream) start(typ string) {
	b := append(s.ev[:0], "event: "...)
	b = append(b, typ...)
	b = append(b, "\ndata: {\"type\":\""...)
	b = append(b, typ...)
	b = append(b, `","sequence_number":`...)
	b = strconv.AppendInt(b, s.seq, 10)
	s.seq++
	s.ev = b
}

func (s *Stream) end(dst []byte) []byte {
	dst = append(dst, s.ev...)
	return append(dst, "}\n\n"...)
}

func (s *Stream) itemRef(id []byte, idx int) {
	s.ev = append(s.ev, `,"item_id":`...)
	s.ev = openai.AppendJSONString(s.ev, id)
	s.ev = append(s.ev, `,"output_index":`...)
	s.ev = strconv.AppendInt(s.ev, int64(idx), 10)
}

func (s *Stream) lifecycle(dst []byte, typ string, r *responseObject) []byte {
	r.id, r.created, r.model = s.respID, s.created, s.model
	s.obj = s.t.appendObject(s.obj[:0], r)
	s.start(typ)
	s.ev = append(s.ev, `,"response":`...)
	s.ev = append(s.ev, s.obj...)
	return s.end(dst)
}

// Begin appends response.created and response.in_progress unless already sent. Chunk calls it;
// the router may call it earlier to send the first bytes before the upstream's first chunk.
func (s *Stream) Begin(dst []byte) []byte {
	if s.begun {
		return dst
	}
	s.begun = true
	s.respID = appendID(s.respID[:0], prefixResponse)
	if s.created == 0 {
		s.created = time.Now().Unix()
	}
	r := responseObject{status: "in_progress"}
	dst = s.lifecycle(dst, "response.created", &r)
	return s.lifecycle(dst, "response.in_progress", &r)
}

// Chunk consumes the data of one chat.completion.chunk event and appends the Responses events it
// yields (possibly none). A payload that is not a chunk returns an *Error (ErrUpstream); the
// caller should then end the stream with Fail.
func (s *Stream) Chunk(dst, data []byte) ([]byte, error) {
	if s.finished {
		return dst, nil
	}
	v, err := s.p.ParseBytes(data)
	if err != nil || v.Type() != fastjson.TypeObject {
		return dst, badUpstream("The upstream sent a stream event that is not JSON.")
	}
	if c := v.GetInt64("created"); c > 0 && !s.begun {
		s.created = c
	}
	if m := v.GetStringBytes("model"); len(m) > 0 && !s.begun {
		s.model = append(s.model[:0], m...)
	}
	dst = s.Begin(dst)
	if u := v.Get("usage"); u != nil && u.Type() == fastjson.TypeObject {
		s.usage.read(u)
	}
	for _, ch := range v.GetArray("choices") {
		if ch.GetInt("index") != 0 {
			continue // n > 1 is not a Responses concept; only the first choice is kept
		}
		if d := ch.Get("delta"); d != nil && d.Type() == fastjson.TypeObject {
			if rt := reasoningText(d); len(rt) > 0 {
				dst = s.text(dst, itemReasoning, rt)
			}
			if c := d.GetStringBytes("content"); len(c) > 0 {
				dst = s.text(dst, itemMessage, c)
			}
			for _, tc := range d.GetArray("tool_calls") {
				dst = s.toolDelta(dst, tc)
			}
		}
		if f := ch.GetStringBytes("finish_reason"); len(f) > 0 {
			s.finish = append(s.finish[:0], f...)
		}
	}
	return dst, nil
}

// text appends a reasoning or message delta, opening the item when it is new.
func (s *Stream) text(dst []byte, kind itemKind, delta []byte) []byte {
	if s.cur != kind {
		dst = s.closeCur(dst)
		s.cur, s.curIdx = kind, s.next
		s.next++
		s.curText = s.curText[:0]
		s.start("response.output_item.added")
		s.ev = append(s.ev, `,"output_index":`...)
		s.ev = strconv.AppendInt(s.ev, int64(s.curIdx), 10)
		s.ev = append(s.ev, `,"item":`...)
		if kind == itemReasoning {
			s.curID = appendID(s.curID[:0], prefixReasoning)
			s.ev = appendReasoningItem(s.ev, s.curID, "in_progress", nil)
			dst = s.end(dst)
		} else {
			s.curID = appendID(s.curID[:0], prefixMessage)
			s.ev = appendMessageItem(s.ev, s.curID, "in_progress", nil, false)
			dst = s.end(dst)
			s.start("response.content_part.added")
			s.itemRef(s.curID, s.curIdx)
			s.ev = append(s.ev, `,"content_index":0,"part":`...)
			s.ev = appendTextPart(s.ev, nil, false)
			dst = s.end(dst)
		}
	}
	s.curText = append(s.curText, delta...)
	if kind == itemReasoning {
		s.start("response.reasoning_text.delta")
	} else {
		s.start("response.output_text.delta")
	}
	s.itemRef(s.curID, s.curIdx)
	s.ev = append(s.ev, `,"content_index":0,"delta":`...)
	s.ev = openai.AppendJSONString(s.ev, delta)
	if kind == itemMessage {
		s.ev = append(s.ev, `,"logprobs":[]`...)
	}
	return s.end(dst)
}

// closeCur finishes the open reasoning or message item.
func (s *Stream) closeCur(dst []byte) []byte {
	switch s.cur {
	case itemReasoning:
		s.start("response.reasoning_text.done")
		s.itemRef(s.curID, s.curIdx)
		s.ev = append(s.ev, `,"content_index":0,"text":`...)
		s.ev = openai.AppendJSONString(s.ev, s.curText)
		dst = s.end(dst)
		mark := len(s.items)
		s.items = comma(s.items, 0)
		s.items = appendReasoningItem(s.items, s.curID, "completed", s.curText)
		dst = s.itemDone(dst, s.curIdx, s.items[mark:])
	case itemMessage:
		s.start("response.output_text.done")
		s.itemRef(s.curID, s.curIdx)
		s.ev = append(s.ev, `,"content_index":0,"text":`...)
		s.ev = openai.AppendJSONString(s.ev, s.curText)
		s.ev = append(s.ev, `,"logprobs":[]`...)
		dst = s.end(dst)
		s.start("response.content_part.done")
		s.itemRef(s.curID, s.curIdx)
		s.ev = append(s.ev, `,"content_index":0,"part":`...)
		s.ev = appendTextPart(s.ev, s.curText, false)
		dst = s.end(dst)
		mark := len(s.items)
		s.items = comma(s.items, 0)
		s.items = appendMessageItem(s.items, s.curID, "completed", s.curText, false)
		dst = s.itemDone(dst, s.curIdx, s.items[mark:])
	}
	s.cur = itemNone
	return dst
}

// itemDone appends output_item.done; item may start with the separating comma.
func (s *Stream) itemDone(dst []byte, idx int, item []byte) []byte {
	if len(item) > 0 && item[0] == ',' {
		item = item[1:]
	}
	s.start("response.output_item.done")
	s.ev = append(s.ev, `,"output_index":`...)
	s.ev = strconv.AppendInt(s.ev, int64(idx), 10)
	s.ev = append(s.ev, `,"item":`...)
	s.ev = append(s.ev, item...)
	return s.end(dst)
}

// tool returns the state of the chat tool call with this index, adding it when new.
func (s *Stream) tool(idx int64) (*toolState, bool) {
	for i := range s.tools {
		if s.tools[i].chatIndex == idx {
			return &s.tools[i], false
		}
	}
	if len(s.tools) < cap(s.tools) {
		s.tools = s.tools[:len(s.tools)+1] // reuse the element's buffers
	} else {
		s.tools = append(s.tools, toolState{})
	}
	ts := &s.tools[len(s.tools)-1]
	ts.chatIndex, ts.done, ts.custom = idx, false, false
	ts.id, ts.callID, ts.name, ts.args = ts.id[:0], ts.callID[:0], ts.name[:0], ts.args[:0]
	return ts, true
}

func (s *Stream) toolDelta(dst []byte, tc *fastjson.Value) []byte {
	idx := int64(len(s.tools) - 1)
	if iv := tc.Get("index"); iv != nil {
		idx = iv.GetInt64()
	} else if id := tc.GetStringBytes("id"); len(id) > 0 || idx < 0 {
		idx++ // no index (some upstreams): a new id means a new call
	}
	ts, isNew := s.tool(idx)
	fn := tc.Get("function")
	if isNew {
		dst = s.closeCur(dst)
		ts.outIdx = s.next
		s.next++
		ts.callID = append(ts.callID, tc.GetStringBytes("id")...)
		ts.name = append(ts.name, fn.GetStringBytes("name")...)
		tool := s.t.lookup(ts.name)
		ts.custom = tool != nil && tool.custom
		prefix := prefixFunction
		if ts.custom {
			prefix = prefixCustom
		}
		ts.id = appendID(ts.id, prefix)
		s.start("response.output_item.added")
		s.ev = append(s.ev, `,"output_index":`...)
		s.ev = strconv.AppendInt(s.ev, int64(ts.outIdx), 10)
		s.ev = append(s.ev, `,"item":`...)
		s.ev = s.t.appendCallItem(s.ev, ts.id, "in_progress", ts.callID, ts.name, nil)
		dst = s.end(dst)
	}
	frag := fn.GetStringBytes("arguments")
	if len(frag) == 0 {
		return dst
	}
	ts.args = append(ts.args, frag...)
	if ts.custom {
		return dst // the input is the decoded "input" member: sent whole when the call ends
	}
	s.start("response.function_call_arguments.delta")
	s.itemRef(ts.id, ts.outIdx)
	s.ev = append(s.ev, `,"delta":`...)
	s.ev = openai.AppendJSONString(s.ev, frag)
	return s.end(dst)
}

func (s *Stream) closeTools(dst []byte) []byte {
	for i := range s.tools {
		ts := &s.tools[i]
		if ts.done {
			continue
		}
		ts.done = true
		if ts.custom {
			input := s.t.customInput(ts.args)
			s.start("response.custom_tool_call_input.delta")
			s.itemRef(ts.id, ts.outIdx)
			s.ev = append(s.ev, `,"delta":`...)
			s.ev = openai.AppendJSONString(s.ev, input)
			dst = s.end(dst)
			s.start("response.custom_tool_call_input.done")
			s.itemRef(ts.id, ts.outIdx)
			s.ev = append(s.ev, `,"input":`...)
			s.ev = openai.AppendJSONString(s.ev, input)
			dst = s.end(dst)
		} else {
			s.start("response.function_call_arguments.done")
			s.itemRef(ts.id, ts.outIdx)
			name := ts.name
			if tool := s.t.lookup(ts.name); tool != nil {
				name = s.t.str(tool.name) // a namespaced tool's own name
			}
			s.ev = append(s.ev, `,"name":`...)
			s.ev = openai.AppendJSONString(s.ev, name)
			s.ev = append(s.ev, `,"arguments":`...)
			s.ev = openai.AppendJSONString(s.ev, ts.args)
			dst = s.end(dst)
		}
		mark := len(s.items)
		s.items = comma(s.items, 0)
		s.items = s.t.appendCallItem(s.items, ts.id, "completed", ts.callID, ts.name, ts.args)
		dst = s.itemDone(dst, ts.outIdx, s.items[mark:])
	}
	return dst
}

// Done ends a stream whose upstream finished cleanly ([DONE], or the natural end of a stream
// without one): open items are closed and response.completed — or response.incomplete after a
// length or content-filter stop — is appended with usage. A stream that ended without any
// finish_reason was cut short: Done then appends response.failed instead and reports false.
func (s *Stream) Done(dst []byte) ([]byte, bool) {
	if s.finished {
		return dst, true
	}
	if len(s.finish) == 0 {
		return s.Fail(dst, "server_error", "The upstream stream ended before the response was complete."), false
	}
	dst = s.Begin(dst)
	dst = s.closeCur(dst)
	dst = s.closeTools(dst)
	s.finished = true
	r := responseObject{output: s.items, usage: &s.usage}
	r.status, r.incomplete = finishStatus(s.finish)
	if r.status == "incomplete" {
		return s.lifecycle(dst, "response.incomplete", &r), true
	}
	return s.lifecycle(dst, "response.completed", &r), true
}

// Fail ends the stream with response.failed carrying an OpenAI error code (see FailCode) and a
// message that must not contain prompt or completion text. Items already completed stay in the
// failed response's output; open ones are dropped.
func (s *Stream) Fail(dst []byte, code, message string) []byte {
	if s.finished {
		return dst
	}
	dst = s.Begin(dst)
	s.finished = true
	r := responseObject{status: "failed", output: s.items, errCode: code, errMessage: message}
	if s.usage.known {
		r.usage = &s.usage
	}
	return s.lifecycle(dst, "response.failed", &r)
}

// FailCode maps an upstream failure (its HTTP status and OpenAI or cloud code) to the error code a
// response.failed event carries; Codex keys its retry and context-window handling off these.
func FailCode(status int, code string) string {
	switch code {
	case "rate_limit_exceeded", "insufficient_quota", "context_length_exceeded", "invalid_prompt":
		return code
	}
	if status == 429 {
		return "rate_limit_exceeded"
	}
	if status == 400 && strings.Contains(code, "context") {
		return "context_length_exceeded"
	}
	return "server_error"
}

// SplitEvent cuts the first SSE frame off b (as Stream writes them): its event name, its data
// and the rest of b. ok is false when b holds no complete frame.
func SplitEvent(b []byte) (name, data, rest []byte, ok bool) {
	end := bytes.Index(b, []byte("\n\n"))
	if end < 0 {
		return nil, nil, b, false
	}
	frame, rest := b[:end], b[end+2:]
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		if v, found := bytes.CutPrefix(line, []byte("event: ")); found {
			name = v
		} else if v, found := bytes.CutPrefix(line, []byte("data: ")); found {
			data = v
		}
	}
	return name, data, rest, true
}
