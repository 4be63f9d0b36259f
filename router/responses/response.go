package responses

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/openai"
)

// Item id prefixes, as OpenAI's own: a client may key off them.
const (
	prefixResponse  = "resp_"
	prefixMessage   = "msg_"
	prefixFunction  = "fc_"
	prefixCustom    = "ctc_"
	prefixReasoning = "rs_"
)

// appendID appends prefix and 48 random hex digits (OpenAI's ids have the same shape).
func appendID(dst []byte, prefix string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, prefix...)
	for range 3 {
		x := rand.Uint64()
		for range 16 {
			dst = append(dst, hex[x&15])
			x >>= 4
		}
	}
	return dst
}

// usage is a chat answer's token counts.
type usage struct {
	in, out, total, cached, reasoning int64
	known                             bool
}

func (u *usage) read(v *fastjson.Value) {
	if v == nil || v.Type() != fastjson.TypeObject {
		return
	}
	u.known = true
	u.in = v.GetInt64("prompt_tokens")
	u.out = v.GetInt64("completion_tokens")
	u.total = v.GetInt64("total_tokens")
	if u.total == 0 {
		u.total = u.in + u.out
	}
	u.cached = v.GetInt64("prompt_tokens_details", "cached_tokens")
	u.reasoning = v.GetInt64("completion_tokens_details", "reasoning_tokens")
}

func (u *usage) appendTo(dst []byte) []byte {
	if !u.known {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"input_tokens":`...)
	dst = strconv.AppendInt(dst, u.in, 10)
	dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.cached, 10)
	dst = append(dst, `},"output_tokens":`...)
	dst = strconv.AppendInt(dst, u.out, 10)
	dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, u.reasoning, 10)
	dst = append(dst, `},"total_tokens":`...)
	dst = strconv.AppendInt(dst, u.total, 10)
	return append(dst, '}')
}

// status of a finished response from the chat finish_reason: completed, or incomplete with its
// reason.
func finishStatus(finish []byte) (status, reason string) {
	switch string(finish) {
	case "length":
		return "incomplete", "max_output_tokens"
	case "content_filter":
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// responseObject is what a Response object needs beyond the echoed request fields.
type responseObject struct {
	id         []byte
	created    int64
	model      []byte
	status     string
	incomplete string // incomplete_details.reason
	output     []byte // raw items, comma-separated
	usage      *usage
	errCode    string // response.failed
	errMessage string
}

func (t *Translator) appendObject(dst []byte, r *responseObject) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendJSONString(dst, r.id)
	dst = append(dst, `,"object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, r.created, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, r.status...)
	dst = append(dst, `","background":false,"error":`...)
	if r.errCode != "" {
		dst = append(dst, `{"code":"`...)
		dst = append(dst, r.errCode...)
		dst = append(dst, `","message":`...)
		dst = openai.AppendJSONString(dst, []byte(r.errMessage))
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"incomplete_details":`...)
	if r.incomplete != "" {
		dst = append(dst, `{"reason":"`...)
		dst = append(dst, r.incomplete...)
		dst = append(dst, `"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"model":`...)
	dst = openai.AppendJSONString(dst, r.model)
	dst = append(dst, `,"output":[`...)
	dst = append(dst, r.output...)
	dst = append(dst, ']')
	dst = append(dst, t.echo...)
	dst = append(dst, `,"usage":`...)
	if r.usage != nil {
		dst = r.usage.appendTo(dst)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
}

// appendMessageItem renders an assistant message item; text is unescaped. refusal renders the
// part as a refusal instead of output_text.
func appendMessageItem(dst, id []byte, status string, text []byte, refusal bool) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendJSONString(dst, id)
	dst = append(dst, `,"type":"message","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","role":"assistant","content":[`...)
	if status != "in_progress" {
		dst = appendTextPart(dst, text, refusal)
	}
	return append(dst, "]}"...)
}

func appendTextPart(dst, text []byte, refusal bool) []byte {
	if refusal {
		dst = append(dst, `{"type":"refusal","refusal":`...)
		dst = openai.AppendJSONString(dst, text)
		return append(dst, '}')
	}
	dst = append(dst, `{"type":"output_text","annotations":[],"logprobs":[],"text":`...)
	dst = openai.AppendJSONString(dst, text)
	return append(dst, '}')
}

// appendReasoningItem renders a reasoning item carrying the upstream's reasoning text.
func appendReasoningItem(dst, id []byte, status string, text []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = openai.AppendJSONString(dst, id)
	dst = append(dst, `,"type":"reasoning","summary":[],"content":[`...)
	if status != "in_progress" {
		dst = append(dst, `{"type":"reasoning_text","text":`...)
		dst = openai.AppendJSONString(dst, text)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"status":"`...)
	dst = append(dst, status...)
	return append(dst, `"}`...)
}

// appendCallItem renders a function_call, or a custom_tool_call when the chat function stands
// for a custom tool (its input is the "input" member of args). args is the unescaped arguments
// text; chatName the chat function name.
func (t *Translator) appendCallItem(dst, id []byte, status string, callID, chatName, args []byte) []byte {
	tool := t.lookup(chatName)
	dst = append(dst, `{"id":`...)
	dst = openai.AppendJSONString(dst, id)
	if tool != nil && tool.custom {
		dst = append(dst, `,"type":"custom_tool_call","status":"`...)
		dst = append(dst, status...)
		dst = append(dst, `","call_id":`...)
		dst = openai.AppendJSONString(dst, callID)
		dst = t.appendToolName(dst, tool)
		dst = append(dst, `,"input":`...)
		dst = openai.AppendJSONString(dst, t.customInput(args))
		return append(dst, '}')
	}
	dst = append(dst, `,"type":"function_call","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","arguments":`...)
	dst = openai.AppendJSONString(dst, args)
	dst = append(dst, `,"call_id":`...)
	dst = openai.AppendJSONString(dst, callID)
	if tool != nil {
		dst = t.appendToolName(dst, tool)
	} else {
		dst = append(dst, `,"name":`...)
		dst = openai.AppendJSONString(dst, chatName)
	}
	return append(dst, '}')
}

func (t *Translator) appendToolName(dst []byte, tool *toolEntry) []byte {
	dst = append(dst, `,"name":`...)
	dst = openai.AppendJSONString(dst, t.str(tool.name))
	if tool.ns.n > 0 {
		dst = append(dst, `,"namespace":`...)
		dst = openai.AppendJSONString(dst, t.str(tool.ns))
	}
	return dst
}

// customInput extracts the "input" string from a custom tool's chat arguments; arguments that are
// not such an object are the input themselves (a model that ignored the schema).
func (t *Translator) customInput(args []byte) []byte {
	if len(args) == 0 {
		return args
	}
	var p fastjson.Parser // rare path (custom tools); a parser of its own keeps t.p's values intact
	v, err := p.ParseBytes(args)
	if err == nil && v.Type() == fastjson.TypeObject {
		if in := v.Get("input"); in != nil && in.Type() == fastjson.TypeString {
			t.scratch = append(t.scratch[:0], in.GetStringBytes()...)
			return t.scratch
		}
	}
	return args
}

// AppendResponse appends the Response object equivalent to a non-streamed chat.completion body
// (already in OpenAI's shape: adapters decode their cloud's answer first) to dst and returns it.
// Call it after AppendChatRequest on the same Translator.
func (t *Translator) AppendResponse(dst, chat []byte) ([]byte, error) {
	v, err := t.p.ParseBytes(chat)
	if err != nil || v.Type() != fastjson.TypeObject {
		return dst, badUpstream("The upstream answer is not a JSON object.")
	}
	choices := v.GetArray("choices")
	if len(choices) == 0 {
		return dst, badUpstream("The upstream answer has no choices.")
	}
	msg := choices[0].Get("message")
	if msg == nil || msg.Type() != fastjson.TypeObject {
		return dst, badUpstream("The upstream answer has no message.")
	}
	var u usage
	u.read(v.Get("usage"))
	r := responseObject{created: v.GetInt64("created"), model: v.GetStringBytes("model"), usage: &u}
	if r.created == 0 {
		r.created = time.Now().Unix()
	}
	if len(r.model) == 0 {
		r.model = t.model
	}
	r.status, r.incomplete = finishStatus(choices[0].GetStringBytes("finish_reason"))
	// Items go to the front of dst's spare room first (so the object can be assembled after),
	// then the object is appended; keep the items in a scratch buffer of the translator.
	items := t.items[:0]
	var id [64]byte
	if rt := reasoningText(msg); len(rt) > 0 {
		items = appendReasoningItem(items, appendID(id[:0], prefixReasoning), "completed", rt)
	}
	content := msg.GetStringBytes("content")
	refusal := msg.GetStringBytes("refusal")
	calls := msg.GetArray("tool_calls")
	if len(content) > 0 || len(refusal) > 0 || len(calls) == 0 {
		items = comma(items, 0)
		if len(content) == 0 && len(refusal) > 0 {
			items = appendMessageItem(items, appendID(id[:0], prefixMessage), "completed", refusal, true)
		} else {
			items = appendMessageItem(items, appendID(id[:0], prefixMessage), "completed", content, false)
		}
	}
	for _, c := range calls {
		fn := c.Get("function")
		items = comma(items, 0)
		name := fn.GetStringBytes("name")
		prefix := prefixFunction
		if tool := t.lookup(name); tool != nil && tool.custom {
			prefix = prefixCustom
		}
		items = t.appendCallItem(items, appendID(id[:0], prefix), "completed", c.GetStringBytes("id"), name, fn.GetStringBytes("arguments"))
	}
	t.items = items
	r.output = items
	r.id = appendID(id[:0], prefixResponse)
	return t.appendObject(dst, &r), nil
}

// reasoningText returns the reasoning an upstream attached to a chat message or delta: OpenAI-
// compatible servers name it "reasoning_content" (vLLM, Bedrock) or "reasoning" (others).
func reasoningText(v *fastjson.Value) []byte {
	if s := v.GetStringBytes("reasoning_content"); len(s) > 0 {
		return s
	}
	return v.GetStringBytes("reasoning")
}
