package responses

import (
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/openai"
)

// Converter turns a complete Response object into the event stream that would have delivered it,
// and a stream's terminal event back into the object: the response cache stores one form and
// answers the other (a streamed request served from a stored JSON answer and the other way round).
// Text and arguments arrive as one delta each. Not safe for concurrent use; reuse it (its parser
// and buffers are kept).
type Converter struct {
	p   fastjson.Parser
	ev  []byte
	seq int64
	out []byte // appendMember's output
}

// Events appends the SSE frames for resp (a Response object with status completed, incomplete or
// failed) to dst: response.created, response.in_progress, each output item's events, and the
// terminal event named for the status.
func (c *Converter) Events(dst, resp []byte) ([]byte, error) {
	v, err := c.p.ParseBytes(resp)
	if err != nil || v.Type() != fastjson.TypeObject || v.Get("output") == nil {
		return dst, badUpstream("The stored answer is not a Response object.")
	}
	c.seq = 0
	for _, typ := range [...]string{"response.created", "response.in_progress"} {
		c.start(typ)
		c.ev = append(c.ev, `,"response":`...)
		c.ev = c.object(c.ev, v, true)
		dst = c.end(dst)
	}
	for i, item := range v.GetArray("output") {
		dst = c.item(dst, i, item)
	}
	terminal := "response.completed"
	switch string(v.GetStringBytes("status")) {
	case "incomplete":
		terminal = "response.incomplete"
	case "failed":
		terminal = "response.failed"
	}
	c.start(terminal)
	c.ev = append(c.ev, `,"response":`...)
	c.ev = append(c.ev, resp...)
	return c.end(dst), nil
}

// Status returns a Response object's status ("completed", "incomplete",
// "failed", …), or "" when resp is not one.
func (c *Converter) Status(resp []byte) string {
	v, err := c.p.ParseBytes(resp)
	if err != nil || v.Type() != fastjson.TypeObject {
		return ""
	}
	switch s := string(v.GetStringBytes("status")); s { // constant strings: no allocation
	case "completed", "incomplete", "failed", "in_progress", "cancelled", "queued":
		return s
	}
	return ""
}

// Completed returns the Response object of a terminal event's data (response.completed,
// .incomplete or .failed), a view into data; ok is false for any other event.
func (c *Converter) Completed(data []byte) (resp []byte, ok bool) {
	v, err := c.p.ParseBytes(data)
	if err != nil {
		return nil, false
	}
	switch string(v.GetStringBytes("type")) {
	case "response.completed", "response.incomplete", "response.failed":
	default:
		return nil, false
	}
	r := v.Get("response")
	if r == nil || r.Type() != fastjson.TypeObject {
		return nil, false
	}
	c.out = r.MarshalTo(c.out[:0])
	return c.out, true
}

func (c *Converter) start(typ string) {
	b := append(c.ev[:0], "event: "...)
	b = append(b, typ...)
	b = append(b, "\ndata: {\"type\":\""...)
	b = append(b, typ...)
	b = append(b, `","sequence_number":`...)
	b = strconv.AppendInt(b, c.seq, 10)
	c.seq++
	c.ev = b
}

func (c *Converter) end(dst []byte) []byte {
	dst = append(dst, c.ev...)
	return append(dst, "}\n\n"...)
}

// object renders the Response object; inProgress replaces status, output and usage as the
// lifecycle events before the end carry them.
func (c *Converter) object(dst []byte, v *fastjson.Value, inProgress bool) []byte {
	dst = append(dst, '{')
	first := true
	v.GetObject().Visit(func(k []byte, e *fastjson.Value) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = openai.AppendJSONString(dst, k)
		dst = append(dst, ':')
		switch {
		case inProgress && string(k) == "status":
			dst = append(dst, `"in_progress"`...)
		case inProgress && string(k) == "output":
			dst = append(dst, "[]"...)
		case inProgress && string(k) == "usage":
			dst = append(dst, "null"...)
		default:
			dst = e.MarshalTo(dst)
		}
	})
	return append(dst, '}')
}

// itemInProgress renders an output item as output_item.added carries it: status in_progress and
// no content, arguments or input yet.
func itemInProgress(dst []byte, item *fastjson.Value) []byte {
	dst = append(dst, '{')
	first := true
	item.GetObject().Visit(func(k []byte, e *fastjson.Value) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = openai.AppendJSONString(dst, k)
		dst = append(dst, ':')
		switch string(k) {
		case "status":
			dst = append(dst, `"in_progress"`...)
		case "content":
			dst = append(dst, "[]"...)
		case "arguments", "input":
			dst = append(dst, `""`...)
		default:
			dst = e.MarshalTo(dst)
		}
	})
	return append(dst, '}')
}

func (c *Converter) ref(id []byte, idx int) {
	c.ev = append(c.ev, `,"item_id":`...)
	c.ev = openai.AppendJSONString(c.ev, id)
	c.ev = append(c.ev, `,"output_index":`...)
	c.ev = strconv.AppendInt(c.ev, int64(idx), 10)
}

func (c *Converter) item(dst []byte, idx int, item *fastjson.Value) []byte {
	id := item.GetStringBytes("id")
	c.start("response.output_item.added")
	c.ev = append(c.ev, `,"output_index":`...)
	c.ev = strconv.AppendInt(c.ev, int64(idx), 10)
	c.ev = append(c.ev, `,"item":`...)
	c.ev = itemInProgress(c.ev, item)
	dst = c.end(dst)
	switch string(item.GetStringBytes("type")) {
	case "message":
		for j, part := range item.GetArray("content") {
			text := part.GetStringBytes("text")
			c.start("response.content_part.added")
			c.ref(id, idx)
			c.ev = append(c.ev, `,"content_index":`...)
			c.ev = strconv.AppendInt(c.ev, int64(j), 10)
			c.ev = append(c.ev, `,"part":`...)
			if string(part.GetStringBytes("type")) == "refusal" {
				c.ev = append(c.ev, `{"type":"refusal","refusal":""}`...)
			} else {
				c.ev = appendTextPart(c.ev, nil, false)
			}
			dst = c.end(dst)
			deltaType, doneType, field := "response.output_text.delta", "response.output_text.done", "text"
			if string(part.GetStringBytes("type")) == "refusal" {
				text = part.GetStringBytes("refusal")
				deltaType, doneType, field = "response.refusal.delta", "response.refusal.done", "refusal"
			}
			for k, typ := range [...]string{deltaType, doneType} {
				c.start(typ)
				c.ref(id, idx)
				c.ev = append(c.ev, `,"content_index":`...)
				c.ev = strconv.AppendInt(c.ev, int64(j), 10)
				if k == 0 {
					c.ev = append(c.ev, `,"delta":`...)
				} else {
					c.ev = append(c.ev, ',', '"')
					c.ev = append(c.ev, field...)
					c.ev = append(c.ev, '"', ':')
				}
				c.ev = openai.AppendJSONString(c.ev, text)
				if field == "text" {
					c.ev = append(c.ev, `,"logprobs":[]`...)
				}
				dst = c.end(dst)
			}
			c.start("response.content_part.done")
			c.ref(id, idx)
			c.ev = append(c.ev, `,"content_index":`...)
			c.ev = strconv.AppendInt(c.ev, int64(j), 10)
			c.ev = append(c.ev, `,"part":`...)
			c.ev = part.MarshalTo(c.ev)
			dst = c.end(dst)
		}
	case "reasoning":
		for j, part := range item.GetArray("content") {
			text := part.GetStringBytes("text")
			for k, typ := range [...]string{"response.reasoning_text.delta", "response.reasoning_text.done"} {
				c.start(typ)
				c.ref(id, idx)
				c.ev = append(c.ev, `,"content_index":`...)
				c.ev = strconv.AppendInt(c.ev, int64(j), 10)
				if k == 0 {
					c.ev = append(c.ev, `,"delta":`...)
				} else {
					c.ev = append(c.ev, `,"text":`...)
				}
				c.ev = openai.AppendJSONString(c.ev, text)
				dst = c.end(dst)
			}
		}
	case "function_call":
		args := item.GetStringBytes("arguments")
		c.start("response.function_call_arguments.delta")
		c.ref(id, idx)
		c.ev = append(c.ev, `,"delta":`...)
		c.ev = openai.AppendJSONString(c.ev, args)
		dst = c.end(dst)
		c.start("response.function_call_arguments.done")
		c.ref(id, idx)
		c.ev = append(c.ev, `,"name":`...)
		c.ev = openai.AppendJSONString(c.ev, item.GetStringBytes("name"))
		c.ev = append(c.ev, `,"arguments":`...)
		c.ev = openai.AppendJSONString(c.ev, args)
		dst = c.end(dst)
	case "custom_tool_call":
		input := item.GetStringBytes("input")
		for k, typ := range [...]string{"response.custom_tool_call_input.delta", "response.custom_tool_call_input.done"} {
			c.start(typ)
			c.ref(id, idx)
			if k == 0 {
				c.ev = append(c.ev, `,"delta":`...)
			} else {
				c.ev = append(c.ev, `,"input":`...)
			}
			c.ev = openai.AppendJSONString(c.ev, input)
			dst = c.end(dst)
		}
	}
	c.start("response.output_item.done")
	c.ev = append(c.ev, `,"output_index":`...)
	c.ev = strconv.AppendInt(c.ev, int64(idx), 10)
	c.ev = append(c.ev, `,"item":`...)
	c.ev = item.MarshalTo(c.ev)
	return c.end(dst)
}
