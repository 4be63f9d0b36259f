package mockcloud

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// This file answers the Responses API (§1.9): a JSON response object, or named SSE events in the
// documented order with sequence numbers and no [DONE].

type respBuilder struct {
	id, msgID, model string
	created          int64
	r                *genReq
	a                *answer
}

// object appends the response object; status "in_progress" omits output and usage.
func (rb *respBuilder) object(b []byte, status string) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, rb.id)
	b = append(b, `,"object":"response","created_at":`...)
	b = appendInt(b, rb.created)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, status)
	b = append(b, `,"error":null,"incomplete_details":null,"instructions":`...)
	b = appendNullable(b, rb.r.instructions)
	b = append(b, `,"max_output_tokens":`...)
	if rb.r.maxTokens > 0 {
		b = appendInt(b, int64(rb.r.maxTokens))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"model":`...)
	b = appendJSONString(b, rb.model)
	b = append(b, `,"output":[`...)
	if status != "in_progress" {
		b = rb.item(b, "completed")
	}
	b = append(b, `],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":`...)
	if status == "in_progress" {
		b = append(b, "null"...)
	} else {
		in, out := int64(rb.r.promptTokens()), int64(rb.a.completionTokens())
		b = append(b, `{"input_tokens":`...)
		b = appendInt(b, in)
		b = append(b, `,"input_tokens_details":{"cached_tokens":0},"output_tokens":`...)
		b = appendInt(b, out)
		b = append(b, `,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":`...)
		b = appendInt(b, in+out)
		b = append(b, '}')
	}
	return append(b, `,"user":null,"metadata":{}}`...)
}

// item appends the output item: the message, or the tool call when the answer is one;
// "in_progress" has no content (arguments, input) yet.
func (rb *respBuilder) item(b []byte, status string) []byte {
	if t := rb.a.tool; t != nil {
		b = append(b, `{"id":`...)
		b = appendJSONString(b, rb.msgID)
		if rb.custom() {
			b = append(b, `,"type":"custom_tool_call","status":`...)
			b = appendJSONString(b, status)
			b = append(b, `,"call_id":`...)
			b = appendJSONString(b, rb.a.callID)
			b = append(b, `,"name":`...)
			b = appendJSONString(b, t.name)
			b = append(b, `,"input":`...)
			if status == "in_progress" {
				return append(b, `""}`...)
			}
			b = appendJSONString(b, t.args)
			return append(b, '}')
		}
		b = append(b, `,"type":"function_call","status":`...)
		b = appendJSONString(b, status)
		b = append(b, `,"arguments":`...)
		if status == "in_progress" {
			b = append(b, `""`...)
		} else {
			b = appendJSONString(b, t.chatArgs())
		}
		b = append(b, `,"call_id":`...)
		b = appendJSONString(b, rb.a.callID)
		b = append(b, `,"name":`...)
		b = appendJSONString(b, t.name)
		return append(b, '}')
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, rb.msgID)
	b = append(b, `,"type":"message","status":`...)
	b = appendJSONString(b, status)
	b = append(b, `,"role":"assistant","content":[`...)
	if status != "in_progress" {
		b = rb.part(b)
	}
	return append(b, "]}"...)
}

// custom reports whether the answer calls a tool the request declared as freeform (custom).
func (rb *respBuilder) custom() bool { return rb.a.tool != nil && rb.r.custom[rb.a.tool.name] }

func (rb *respBuilder) part(b []byte) []byte {
	b = append(b, `{"type":"output_text","text":`...)
	b = appendJSONString(b, rb.a.text)
	return append(b, `,"annotations":[]}`...)
}

func (s *Server) serveResponses(ctx *fasthttp.RequestCtx, r *genReq, model string, f Fault) {
	a := s.makeAnswer(r)
	rb := &respBuilder{id: responseID(), msgID: messageID(), model: model, created: time.Now().Unix(), r: r, a: &a}
	if a.tool != nil {
		rb.msgID = randHex("fc_", 24)
		if rb.custom() {
			rb.msgID = randHex("ctc_", 24)
			a.pieces = splitArgs(a.tool.args)
		}
	}
	if !r.stream {
		ctx.SetStatusCode(200)
		ctx.SetContentType("application/json")
		ctx.SetBody(truncated(rb.object(make([]byte, 0, 1024), "completed"), f))
		return
	}
	setSSE(ctx)
	seq := int64(0)
	errEvent := func() []byte {
		msg, _, code := openAIFaultBody(faultStatus(f), f.Code)
		b := append([]byte(nil), "event: error\ndata: {\"type\":\"error\",\"code\":"...)
		b = appendNullable(b, code)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, msg)
		b = append(b, `,"param":null,"sequence_number":`...)
		b = appendInt(b, seq)
		return append(b, "}\n\n"...)
	}
	s.stream(ctx, f, errEvent, func(sw *streamer) {
		b := make([]byte, 0, 1024)
		// ev starts an event: "event: <type>\ndata: {"type":"<type>",".
		ev := func(typ string) []byte {
			b = append(b[:0], "event: "...)
			b = append(b, typ...)
			b = append(b, "\ndata: {\"type\":\""...)
			b = append(b, typ...)
			return append(b, `",`...)
		}
		end := func(b []byte) []byte {
			b = append(b, `"sequence_number":`...)
			b = appendInt(b, seq)
			seq++
			return append(b, "}\n\n"...)
		}
		itemRef := func(b []byte) []byte {
			b = append(b, `"item_id":`...)
			b = appendJSONString(b, rb.msgID)
			return append(b, `,"output_index":0,"content_index":0,`...)
		}
		for _, typ := range [...]string{"response.created", "response.in_progress"} {
			b = ev(typ)
			b = append(b, `"response":`...)
			b = rb.object(b, "in_progress")
			if !sw.emit(end(append(b, ','))) {
				return
			}
		}
		b = ev("response.output_item.added")
		b = append(b, `"output_index":0,"item":`...)
		b = rb.item(b, "in_progress")
		if !sw.emit(end(append(b, ','))) {
			return
		}
		if a.tool != nil {
			ref := func(typ string) []byte {
				b = ev(typ)
				b = append(b, `"item_id":`...)
				b = appendJSONString(b, rb.msgID)
				return append(b, `,"output_index":0,`...)
			}
			delta, done, field := "response.function_call_arguments.delta", "response.function_call_arguments.done", "arguments"
			if rb.custom() {
				delta, done, field = "response.custom_tool_call_input.delta", "response.custom_tool_call_input.done", "input"
			}
			for _, p := range a.pieces {
				b = ref(delta)
				b = append(b, `"delta":`...)
				b = appendJSONString(b, p)
				if !sw.emit(end(append(b, ','))) {
					return
				}
			}
			b = ref(done)
			b = append(b, '"')
			b = append(b, field...)
			b = append(b, `":`...)
			b = appendJSONString(b, strings.Join(a.pieces, ""))
			if !rb.custom() {
				b = append(b, `,"name":`...)
				b = appendJSONString(b, a.tool.name)
			}
			if !sw.emit(end(append(b, ','))) {
				return
			}
		} else if !rb.textEvents(sw, &b, ev, end, itemRef) {
			return
		}
		b = ev("response.output_item.done")
		b = append(b, `"output_index":0,"item":`...)
		b = rb.item(b, "completed")
		if !sw.emit(end(append(b, ','))) {
			return
		}
		b = ev("response.completed")
		b = append(b, `"response":`...)
		b = rb.object(b, "completed")
		sw.emit(end(append(b, ',')))
	})
}

// textEvents emits the content part and text events of a message item.
func (rb *respBuilder) textEvents(sw *streamer, bp *[]byte, ev func(string) []byte, end func([]byte) []byte, itemRef func([]byte) []byte) bool {
	a := rb.a
	b := *bp
	defer func() { *bp = b }()
	{
		b = itemRef(ev("response.content_part.added"))
		b = append(b, `"part":{"type":"output_text","text":"","annotations":[]},`...)
		if !sw.emit(end(b)) {
			return false
		}
		for _, p := range a.pieces {
			b = itemRef(ev("response.output_text.delta"))
			b = append(b, `"delta":`...)
			b = appendJSONString(b, p)
			b = append(b, `,"logprobs":[],`...)
			if !sw.emit(end(b)) {
				return false
			}
		}
		b = itemRef(ev("response.output_text.done"))
		b = append(b, `"text":`...)
		b = appendJSONString(b, a.text)
		b = append(b, `,"logprobs":[],`...)
		if !sw.emit(end(b)) {
			return false
		}
		b = itemRef(ev("response.content_part.done"))
		b = append(b, `"part":`...)
		b = rb.part(b)
		return sw.emit(end(append(b, ',')))
	}
}
