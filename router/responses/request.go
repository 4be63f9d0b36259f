package responses

import (
	"bytes"

	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/openai"
)

// ToolSet is a set of hosted Responses tool types (web_search, file_search, …): tools that OpenAI
// runs on its side and that no Chat Completions upstream can run. A request that carries one is
// refused with a 400 naming the tool, unless the tool's type is in Options.Optional, in which case
// the tool is dropped silently.
type ToolSet uint16

// Hosted tool types.
const (
	ToolWebSearch ToolSet = 1 << iota // web_search, web_search_preview (and dated variants)
	ToolFileSearch
	ToolCodeInterpreter
	ToolImageGeneration
	ToolComputerUse
	ToolMCP
	ToolLocalShell
)

// DefaultOptional is the set the router should use when the operator configured none:
// web_search only. Codex sends a web_search tool with every request (0.169, any model) and works
// without it; see docs/responses.md "Hosted tools".
const DefaultOptional = ToolWebSearch

var hostedTools = [...]struct {
	name string
	set  ToolSet
}{
	{"web_search", ToolWebSearch}, {"web_search_preview", ToolWebSearch},
	{"file_search", ToolFileSearch}, {"code_interpreter", ToolCodeInterpreter},
	{"image_generation", ToolImageGeneration}, {"computer_use_preview", ToolComputerUse},
	{"computer_use", ToolComputerUse}, {"mcp", ToolMCP}, {"local_shell", ToolLocalShell},
}

// hostedTool returns the set bit of a hosted tool type ("web_search_2025_08_26" counts as
// web_search), or 0.
func hostedTool(typ []byte) ToolSet {
	for _, h := range hostedTools {
		if string(typ) == h.name || (len(typ) > len(h.name) && string(typ[:len(h.name)]) == h.name && typ[len(h.name)] == '_' && isDigit(typ[len(h.name)+1])) {
			return h.set
		}
	}
	return 0
}

func isDigit(c byte) bool { return c-'0' <= 9 }

// ParseToolSet reads a comma-separated list of hosted tool types ("web_search, image_generation"),
// as an operator writes it in config or a client sends it in x-switchyard-optional-tools.
// Unknown names are ignored.
func ParseToolSet(list []byte) ToolSet {
	var s ToolSet
	for len(list) > 0 {
		name := list
		if i := bytes.IndexByte(list, ','); i >= 0 {
			name, list = list[:i], list[i+1:]
		} else {
			list = nil
		}
		s |= hostedTool(bytes.TrimSpace(name))
	}
	return s
}

// Options tune one translation. The zero value is the default: hosted tools refused,
// reasoning.effort passed on as reasoning_effort.
type Options struct {
	// Optional lists the hosted tool types dropped instead of refused.
	Optional ToolSet
	// NoReasoningEffort drops reasoning.effort, for upstream models that reject reasoning_effort.
	NoReasoningEffort bool
}

// toolEntry maps one chat function name back to the Responses tool it came from. The three names
// are spans of Translator.names.
type toolEntry struct {
	chat, ns, name span
	custom         bool
}

type span struct{ off, n int32 }

// Translator carries one Responses exchange over a Chat Completions upstream: it translates the
// request (AppendChatRequest) and remembers what the answer needs — which chat functions stand for
// custom or namespaced tools, the fields a Response object echoes — for AppendResponse and Stream.
//
// A Translator is not safe for concurrent use; it is meant to be pooled (Reset, then reuse: its
// buffers and JSON parser are kept, so steady-state use allocates nothing). Views it returns are
// valid until the next call.
type Translator struct {
	p       fastjson.Parser
	tools   []toolEntry
	names   []byte
	echo    []byte // `,"instructions":…,"tools":[…],…` echoed in every Response object
	scratch []byte
	// re-rendering state (appendJSON): the output, one "first member" flag per open object, and
	// the visitor made once
	out   []byte
	first []bool
	visit func([]byte, *fastjson.Value)
	items []byte // rendered output items
	model []byte
	// pending assistant message being built (so function_call items join its tool_calls)
	asst       asstState
	stream     bool
	translated bool
}

type asstState uint8

const (
	asstNone  asstState = iota
	asstText            // {"role":"assistant","content":"…" written, no tool_calls yet
	asstTools           // …,"tool_calls":[ open
)

// Reset forgets the previous exchange; buffers are kept.
func (t *Translator) Reset() {
	t.tools = t.tools[:0]
	t.names = t.names[:0]
	t.echo = t.echo[:0]
	t.model = t.model[:0]
	t.asst = asstNone
	t.stream = false
	t.translated = false
}

// Stream reports whether the translated request asked for a stream.
func (t *Translator) Stream() bool { return t.stream }

func (t *Translator) addName(b []byte) span {
	s := span{int32(len(t.names)), int32(len(b))}
	t.names = append(t.names, b...)
	return s
}

func (t *Translator) str(s span) []byte { return t.names[s.off : s.off+s.n] }

// lookup returns the tool a chat function name stands for, or nil for a plain function.
func (t *Translator) lookup(chatName []byte) *toolEntry {
	for i := range t.tools {
		if bytes.Equal(t.str(t.tools[i].chat), chatName) {
			return &t.tools[i]
		}
	}
	return nil
}

// AppendChatRequest appends the Chat Completions body equivalent to the Responses request body to
// dst and returns it. body must be one JSON object with no duplicate member names (the router's
// scanner guarantees it). A request that cannot be translated returns an *Error naming the field.
//
// The chat body carries stream_options.include_usage for streams, so usage is always known.
func (t *Translator) AppendChatRequest(dst, body []byte, o Options) ([]byte, error) {
	t.Reset()
	v, err := t.p.ParseBytes(body)
	if err != nil {
		return dst, invalid("", "invalid_json", "We could not parse the JSON body of your request.")
	}
	if v.Type() != fastjson.TypeObject {
		return dst, invalid("", "invalid_type", "The request body must be a JSON object.")
	}
	if e := refuseStateful(v); e != nil {
		return dst, e
	}
	model := v.Get("model")
	if model == nil || model.Type() != fastjson.TypeString {
		return dst, invalid("model", "missing_required_parameter", "Missing required parameter: 'model'.")
	}
	t.model = append(t.model, model.GetStringBytes()...)
	t.stream = v.GetBool("stream")
	t.translated = true

	dst = append(dst, `{"model":`...)
	dst = t.appendJSON(dst, model)
	dst = append(dst, `,"messages":[`...)
	start := len(dst)
	if in := v.Get("instructions"); in != nil && in.Type() != fastjson.TypeNull {
		if in.Type() != fastjson.TypeString {
			return dst, invalid("instructions", "invalid_type", "Invalid type for 'instructions': expected a string.")
		}
		if s := in.GetStringBytes(); len(s) > 0 {
			dst = append(dst, `{"role":"system","content":`...)
			dst = t.appendJSON(dst, in)
			dst = append(dst, '}')
		}
	}
	var e *Error
	input := v.Get("input")
	switch {
	case input == nil:
		return dst, invalid("input", "missing_required_parameter", "Missing required parameter: 'input'.")
	case input.Type() == fastjson.TypeString:
		dst = comma(dst, start)
		dst = append(dst, `{"role":"user","content":`...)
		dst = t.appendJSON(dst, input)
		dst = append(dst, '}')
	case input.Type() == fastjson.TypeArray:
		if dst, e = t.appendItems(dst, start, input.GetArray()); e != nil {
			return dst, e
		}
	default:
		return dst, invalid("input", "invalid_type", "Invalid type for 'input': expected a string or an array of input items.")
	}
	if len(dst) == start {
		return dst, invalid("input", "empty_array", "Invalid 'input': the request has no message to answer.")
	}
	dst = append(dst, ']')

	hasTools := false
	if tools := v.Get("tools"); tools != nil && tools.Type() != fastjson.TypeNull {
		if dst, hasTools, e = t.appendTools(dst, tools, o); e != nil {
			return dst, e
		}
	}
	if hasTools {
		if tc := v.Get("tool_choice"); tc != nil && tc.Type() != fastjson.TypeNull {
			if dst, e = t.appendToolChoice(dst, tc); e != nil {
				return dst, e
			}
		}
		if ptc := v.Get("parallel_tool_calls"); ptc != nil && ptc.Type() != fastjson.TypeNull {
			if ptc.Type() != fastjson.TypeTrue && ptc.Type() != fastjson.TypeFalse {
				return dst, invalid("parallel_tool_calls", "invalid_type", "Invalid type for 'parallel_tool_calls': expected a boolean.")
			}
			dst = append(dst, `,"parallel_tool_calls":`...)
			dst = t.appendJSON(dst, ptc)
		}
	}
	if text := v.Get("text"); text != nil && text.Type() == fastjson.TypeObject {
		if dst, e = t.appendFormat(dst, text.Get("format")); e != nil {
			return dst, e
		}
	}
	if n := v.Get("max_output_tokens"); n != nil && n.Type() != fastjson.TypeNull {
		if n.Type() != fastjson.TypeNumber || n.GetInt() <= 0 {
			return dst, invalid("max_output_tokens", "invalid_value", "Invalid 'max_output_tokens': expected a positive integer.")
		}
		dst = append(dst, `,"max_completion_tokens":`...)
		dst = t.appendJSON(dst, n)
	}
	for _, f := range [...]struct {
		key string
		typ fastjson.Type
	}{
		{"temperature", fastjson.TypeNumber}, {"top_p", fastjson.TypeNumber},
		{"prompt_cache_key", fastjson.TypeString}, {"service_tier", fastjson.TypeString},
		{"metadata", fastjson.TypeObject}, {"user", fastjson.TypeString},
		{"safety_identifier", fastjson.TypeString}, {"top_logprobs", fastjson.TypeNumber},
	} {
		fv := v.Get(f.key)
		if fv == nil || fv.Type() == fastjson.TypeNull {
			continue
		}
		if fv.Type() != f.typ {
			return dst, invalid(f.key, "invalid_type", "Invalid type for '"+f.key+"'.")
		}
		dst = append(dst, ',', '"')
		dst = append(dst, f.key...)
		dst = append(dst, '"', ':')
		dst = t.appendJSON(dst, fv)
		if f.key == "top_logprobs" {
			dst = append(dst, `,"logprobs":true`...)
		}
	}
	if r := v.Get("reasoning"); r != nil && r.Type() == fastjson.TypeObject && !o.NoReasoningEffort {
		if eff := r.Get("effort"); eff != nil && eff.Type() == fastjson.TypeString {
			dst = append(dst, `,"reasoning_effort":`...)
			dst = t.appendJSON(dst, eff)
		}
	}
	if t.stream {
		dst = append(dst, `,"stream":true,"stream_options":{"include_usage":true}`...)
	}
	dst = append(dst, '}')
	t.buildEcho(v)
	return dst, nil
}

// refuseStateful refuses what needs state the edge does not keep: stored responses,
// conversations, background runs, stored prompts.
func refuseStateful(v *fastjson.Value) *Error {
	if p := v.Get("previous_response_id"); p != nil && p.Type() != fastjson.TypeNull {
		return unsupported("previous_response_id", "'previous_response_id' is not supported: this upstream has no stored responses. Send the whole conversation in 'input' instead.")
	}
	if v.GetBool("background") {
		return unsupported("background", "'background: true' is not supported: this gateway keeps no responses to poll. Stream the response instead.")
	}
	if c := v.Get("conversation"); c != nil && c.Type() != fastjson.TypeNull {
		return unsupported("conversation", "'conversation' is not supported: this upstream has no stored conversations.")
	}
	if p := v.Get("prompt"); p != nil && p.Type() != fastjson.TypeNull {
		return unsupported("prompt", "'prompt' (stored prompt templates) is not supported on this upstream.")
	}
	return nil
}

// comma appends ',' unless dst ends at start (the first element of an array being built).
func comma(dst []byte, start int) []byte {
	if len(dst) > start {
		return append(dst, ',')
	}
	return dst
}

// closeAsst ends a pending assistant message.
func (t *Translator) closeAsst(dst []byte) []byte {
	switch t.asst {
	case asstText:
		dst = append(dst, '}')
	case asstTools:
		dst = append(dst, "]}"...)
	}
	t.asst = asstNone
	return dst
}

// openToolCall starts one entry of the pending assistant message's tool_calls.
func (t *Translator) openToolCall(dst []byte, start int) []byte {
	switch t.asst {
	case asstNone:
		dst = comma(dst, start)
		dst = append(dst, `{"role":"assistant","content":null,"tool_calls":[`...)
	case asstText:
		dst = append(dst, `,"tool_calls":[`...)
	case asstTools:
		dst = append(dst, ',')
	}
	t.asst = asstTools
	return dst
}

func (t *Translator) appendItems(dst []byte, start int, items []*fastjson.Value) ([]byte, *Error) {
	for i, it := range items {
		if it.Type() != fastjson.TypeObject {
			return dst, invalid(paramPath("input", i), "invalid_type", "Invalid input item: expected an object.")
		}
		typ := it.GetStringBytes("type")
		if typ == nil && it.Get("role") != nil {
			typ = []byte("message")
		}
		var e *Error
		switch string(typ) {
		case "message":
			dst, e = t.appendMessage(dst, start, it, i)
		case "function_call", "custom_tool_call":
			dst, e = t.appendCall(dst, start, it, i, typ[0] == 'c')
		case "function_call_output", "custom_tool_call_output":
			dst = t.closeAsst(dst)
			dst, e = t.appendToolOutput(dst, start, it, i)
		case "reasoning":
			// Reasoning items carry the model's own earlier thoughts, often encrypted for one
			// provider; a chat upstream cannot take them back. Dropped, never an error.
		case "web_search_call":
			// The result of a hosted tool that ran on a native upstream earlier in the
			// conversation: informational, nothing a chat model can replay. Dropped.
		case "item_reference":
			return dst, unsupported(paramPath("input", i), "Input items of type 'item_reference' need stored items; this upstream has none. Send the item itself.")
		case "":
			return dst, invalid(paramPath("input", i)+".type", "missing_required_parameter", "Missing required parameter: 'type' of an input item.")
		default:
			return dst, unsupported(paramPath("input", i)+".type", "Input items of type '"+string(typ)+"' cannot be sent to a chat completions upstream.")
		}
		if e != nil {
			return dst, e
		}
	}
	return t.closeAsst(dst), nil
}

func (t *Translator) appendMessage(dst []byte, start int, it *fastjson.Value, i int) ([]byte, *Error) {
	role := it.GetStringBytes("role")
	switch string(role) {
	case "user", "system", "assistant":
	case "developer":
		// Chat upstreams other than OpenAI's own reject "developer"; "system" means the same to
		// every chat model.
		role = roleSystem
	default:
		return dst, invalid(paramPath("input", i)+".role", "invalid_value", "Invalid 'role' of a message: expected user, assistant, system or developer.")
	}
	content := it.Get("content")
	if content == nil {
		return dst, invalid(paramPath("input", i)+".content", "missing_required_parameter", "Missing required parameter: 'content' of a message.")
	}
	if string(role) == "assistant" {
		dst = t.closeAsst(dst)
		dst = comma(dst, start)
		dst = append(dst, `{"role":"assistant","content":`...)
		var e *Error
		if dst, e = t.appendJoinedText(dst, content, i); e != nil {
			return dst, e
		}
		t.asst = asstText
		return dst, nil
	}
	dst = t.closeAsst(dst)
	dst = comma(dst, start)
	dst = append(dst, `{"role":"`...)
	dst = append(dst, role...)
	dst = append(dst, `","content":`...)
	var e *Error
	if string(role) == "user" {
		dst, e = t.appendUserContent(dst, content, i)
	} else {
		dst, e = t.appendJoinedText(dst, content, i)
	}
	if e != nil {
		return dst, e
	}
	return append(dst, '}'), nil
}

// appendJoinedText writes a message content as one string: system and assistant messages take
// text only, and some chat upstreams accept only a string there.
func (t *Translator) appendJoinedText(dst []byte, content *fastjson.Value, i int) ([]byte, *Error) {
	switch content.Type() {
	case fastjson.TypeString:
		return t.appendJSON(dst, content), nil
	case fastjson.TypeArray:
	default:
		return dst, invalid(paramPath("input", i)+".content", "invalid_type", "Invalid type for 'content': expected a string or an array of content parts.")
	}
	parts := content.GetArray()
	if len(parts) == 1 {
		if s := parts[0].Get("text"); s != nil && s.Type() == fastjson.TypeString {
			if e := textPart(parts[0], i, 0); e != nil {
				return dst, e
			}
			return t.appendJSON(dst, s), nil
		}
	}
	// Several parts: unescape, join, escape once.
	mark := len(dst)
	dst = append(dst, '"')
	for j, p := range parts {
		if e := textPart(p, i, j); e != nil {
			return dst[:mark], e
		}
		s := p.GetStringBytes("text")
		if s == nil {
			s = p.GetStringBytes("refusal")
		}
		q := openai.AppendJSONString(dst[len(dst):], s) // escaped into spare capacity…
		dst = append(dst, q[1:len(q)-1]...)             // …then appended without its quotes
	}
	return append(dst, '"'), nil
}

// textPart checks that a part of a system or assistant message is text.
func textPart(p *fastjson.Value, i, j int) *Error {
	switch string(p.GetStringBytes("type")) {
	case "input_text", "output_text", "text", "refusal":
		return nil
	}
	return unsupported(paramPath("input", i)+paramPath(".content", j)+".type", "Only text parts can be sent in a system, developer or assistant message to a chat completions upstream.")
}

var roleSystem = []byte("system")

func (t *Translator) appendUserContent(dst []byte, content *fastjson.Value, i int) ([]byte, *Error) {
	switch content.Type() {
	case fastjson.TypeString:
		return t.appendJSON(dst, content), nil
	case fastjson.TypeArray:
	default:
		return dst, invalid(paramPath("input", i)+".content", "invalid_type", "Invalid type for 'content': expected a string or an array of content parts.")
	}
	dst = append(dst, '[')
	for j, p := range content.GetArray() {
		if j > 0 {
			dst = append(dst, ',')
		}
		param := func() string { return paramPath("input", i) + paramPath(".content", j) }
		switch string(p.GetStringBytes("type")) {
		case "input_text", "output_text", "text":
			s := p.Get("text")
			if s == nil || s.Type() != fastjson.TypeString {
				return dst, invalid(param()+".text", "missing_required_parameter", "Missing required parameter: 'text' of a text part.")
			}
			dst = append(dst, `{"type":"text","text":`...)
			dst = t.appendJSON(dst, s)
			dst = append(dst, '}')
		case "input_image":
			url := p.Get("image_url")
			if url == nil || url.Type() != fastjson.TypeString {
				if p.Get("file_id") != nil {
					return dst, unsupported(param()+".file_id", "Images by 'file_id' need OpenAI's file store; send 'image_url' (a URL or a data: URL) instead.")
				}
				return dst, invalid(param()+".image_url", "missing_required_parameter", "Missing required parameter: 'image_url' of an input_image part.")
			}
			dst = append(dst, `{"type":"image_url","image_url":{"url":`...)
			dst = t.appendJSON(dst, url)
			if d := p.Get("detail"); d != nil && d.Type() == fastjson.TypeString {
				dst = append(dst, `,"detail":`...)
				dst = t.appendJSON(dst, d)
			}
			dst = append(dst, "}}"...)
		case "input_file":
			dst = append(dst, `{"type":"file","file":{`...)
			n := 0
			for _, k := range [...]string{"file_data", "file_id", "filename"} {
				if fv := p.Get(k); fv != nil && fv.Type() == fastjson.TypeString {
					if n > 0 {
						dst = append(dst, ',')
					}
					n++
					dst = append(dst, '"')
					dst = append(dst, k...)
					dst = append(dst, '"', ':')
					dst = t.appendJSON(dst, fv)
				}
			}
			if n == 0 {
				return dst, invalid(param(), "missing_required_parameter", "An input_file part needs 'file_data' or 'file_id'.")
			}
			dst = append(dst, "}}"...)
		case "":
			return dst, invalid(param()+".type", "missing_required_parameter", "Missing required parameter: 'type' of a content part.")
		default:
			return dst, unsupported(param()+".type", "Content parts of type '"+string(p.GetStringBytes("type"))+"' cannot be sent to a chat completions upstream.")
		}
	}
	return append(dst, ']'), nil
}

// appendCall adds a function_call or custom_tool_call item to the pending assistant message.
func (t *Translator) appendCall(dst []byte, start int, it *fastjson.Value, i int, custom bool) ([]byte, *Error) {
	callID := it.Get("call_id")
	name := it.Get("name")
	if callID == nil || callID.Type() != fastjson.TypeString {
		return dst, invalid(paramPath("input", i)+".call_id", "missing_required_parameter", "Missing required parameter: 'call_id'.")
	}
	if name == nil || name.Type() != fastjson.TypeString {
		return dst, invalid(paramPath("input", i)+".name", "missing_required_parameter", "Missing required parameter: 'name'.")
	}
	dst = t.openToolCall(dst, start)
	dst = append(dst, `{"id":`...)
	dst = t.appendJSON(dst, callID)
	dst = append(dst, `,"type":"function","function":{"name":`...)
	if ns := it.GetStringBytes("namespace"); len(ns) > 0 {
		dst = appendNamespaced(dst, ns, name.GetStringBytes())
	} else {
		dst = t.appendJSON(dst, name)
	}
	dst = append(dst, `,"arguments":`...)
	if custom {
		in := it.Get("input")
		if in == nil || in.Type() != fastjson.TypeString {
			return dst, invalid(paramPath("input", i)+".input", "missing_required_parameter", "Missing required parameter: 'input' of a custom_tool_call.")
		}
		// arguments is a JSON string holding {"input": <input>}: escape the object once more.
		t.scratch = append(t.scratch[:0], `{"input":`...)
		t.scratch = t.appendJSON(t.scratch, in)
		t.scratch = append(t.scratch, '}')
		dst = openai.AppendJSONString(dst, t.scratch)
	} else {
		args := it.Get("arguments")
		if args == nil || args.Type() != fastjson.TypeString {
			return dst, invalid(paramPath("input", i)+".arguments", "missing_required_parameter", "Missing required parameter: 'arguments'.")
		}
		dst = t.appendJSON(dst, args)
	}
	return append(dst, "}}"...), nil
}

// appendNamespaced writes the chat function name for a tool inside a namespace: "<ns>__<name>",
// as a JSON string.
func appendNamespaced(dst, ns, name []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, ns...)
	dst = append(dst, "__"...)
	dst = append(dst, name...)
	return append(dst, '"')
}

func (t *Translator) appendToolOutput(dst []byte, start int, it *fastjson.Value, i int) ([]byte, *Error) {
	callID := it.Get("call_id")
	if callID == nil || callID.Type() != fastjson.TypeString {
		return dst, invalid(paramPath("input", i)+".call_id", "missing_required_parameter", "Missing required parameter: 'call_id'.")
	}
	out := it.Get("output")
	if out == nil {
		return dst, invalid(paramPath("input", i)+".output", "missing_required_parameter", "Missing required parameter: 'output'.")
	}
	dst = comma(dst, start)
	dst = append(dst, `{"role":"tool","tool_call_id":`...)
	dst = t.appendJSON(dst, callID)
	dst = append(dst, `,"content":`...)
	switch out.Type() {
	case fastjson.TypeString:
		dst = t.appendJSON(dst, out)
	case fastjson.TypeArray:
		// Text parts only, joined into one string: some chat upstreams take nothing else in a
		// tool message.
		dst = append(dst, '"')
		for j, p := range out.GetArray() {
			switch string(p.GetStringBytes("type")) {
			case "input_text", "output_text", "text":
			default:
				return dst, unsupported(paramPath("input", i)+paramPath(".output", j), "Only text parts of a tool output can be sent to a chat completions upstream.")
			}
			q := openai.AppendJSONString(dst[len(dst):], p.GetStringBytes("text"))
			dst = append(dst, q[1:len(q)-1]...)
		}
		dst = append(dst, '"')
	default:
		// Codex's failure shape {"content": "...", "success": false} and anything else: as JSON text.
		if c := out.Get("content"); c != nil && c.Type() == fastjson.TypeString {
			dst = t.appendJSON(dst, c)
		} else {
			dst = openai.AppendJSONString(dst, t.appendJSON(nil, out))
		}
	}
	return append(dst, '}'), nil
}

func (t *Translator) appendTools(dst []byte, tools *fastjson.Value, o Options) ([]byte, bool, *Error) {
	if tools.Type() != fastjson.TypeArray {
		return dst, false, invalid("tools", "invalid_type", "Invalid type for 'tools': expected an array.")
	}
	mark := len(dst)
	dst = append(dst, `,"tools":[`...)
	start := len(dst)
	for i, tool := range tools.GetArray() {
		typ := tool.GetStringBytes("type")
		switch string(typ) {
		case "function", "custom":
			var e *Error
			if dst, e = t.appendTool(dst, start, tool, nil, i, -1); e != nil {
				return dst, false, e
			}
		case "namespace":
			ns := tool.GetStringBytes("name")
			if len(ns) == 0 {
				return dst, false, invalid(paramPath("tools", i)+".name", "missing_required_parameter", "Missing required parameter: 'name' of a namespace tool.")
			}
			for j, inner := range tool.GetArray("tools") {
				var e *Error
				if dst, e = t.appendTool(dst, start, inner, ns, i, j); e != nil {
					return dst, false, e
				}
			}
		default:
			h := hostedTool(typ)
			if h != 0 && o.Optional&h != 0 {
				continue
			}
			if h != 0 {
				return dst, false, unsupported(paramPath("tools", i), "Tool type '"+string(typ)+"' is a hosted tool that this upstream cannot run. Remove it, or mark it optional (x-switchyard-optional-tools: "+string(typ)+").")
			}
			if len(typ) == 0 {
				return dst, false, invalid(paramPath("tools", i)+".type", "missing_required_parameter", "Missing required parameter: 'type' of a tool.")
			}
			return dst, false, unsupported(paramPath("tools", i)+".type", "Tool type '"+string(typ)+"' cannot be sent to a chat completions upstream.")
		}
	}
	if len(dst) == start {
		return dst[:mark], false, nil // every tool was dropped: no tools member at all
	}
	return append(dst, ']'), true, nil
}

// appendTool writes one function or custom tool as a chat function and records how to map its
// calls back.
func (t *Translator) appendTool(dst []byte, start int, tool *fastjson.Value, ns []byte, i, j int) ([]byte, *Error) {
	param := func() string { // tools[i], or tools[i].tools[j] inside a namespace; built only on error
		if j < 0 {
			return paramPath("tools", i)
		}
		return paramPath("tools", i) + paramPath(".tools", j)
	}
	typ := string(tool.GetStringBytes("type"))
	name := tool.Get("name")
	if name == nil || name.Type() != fastjson.TypeString || len(name.GetStringBytes()) == 0 {
		return dst, invalid(param()+".name", "missing_required_parameter", "Missing required parameter: 'name' of a tool.")
	}
	if typ != "function" && typ != "custom" {
		return dst, unsupported(param()+".type", "Tool type '"+typ+"' cannot be sent to a chat completions upstream.")
	}
	dst = comma(dst, start)
	dst = append(dst, `{"type":"function","function":{"name":`...)
	if ns != nil {
		t.scratch = appendNamespaced(t.scratch[:0], ns, name.GetStringBytes())
		chat := t.addName(t.scratch[1 : len(t.scratch)-1]) // the bare name, without quotes
		dst = appendNamespaced(dst, ns, name.GetStringBytes())
		t.tools = append(t.tools, toolEntry{chat: chat, ns: t.addName(ns), name: t.addName(name.GetStringBytes()), custom: typ == "custom"})
	} else {
		dst = t.appendJSON(dst, name)
		if typ == "custom" {
			n := t.addName(name.GetStringBytes())
			t.tools = append(t.tools, toolEntry{chat: n, name: n, custom: true})
		}
	}
	if d := tool.Get("description"); d != nil && d.Type() == fastjson.TypeString {
		dst = append(dst, `,"description":`...)
		dst = t.appendJSON(dst, d)
	}
	if typ == "function" {
		if p := tool.Get("parameters"); p != nil && p.Type() != fastjson.TypeNull {
			dst = append(dst, `,"parameters":`...)
			dst = t.appendJSON(dst, p)
		}
		if s := tool.Get("strict"); s != nil && (s.Type() == fastjson.TypeTrue || s.Type() == fastjson.TypeFalse) {
			dst = append(dst, `,"strict":`...)
			dst = t.appendJSON(dst, s)
		}
		return append(dst, "}}"...), nil
	}
	// custom: one string argument "input"; a grammar format is handed to the model in its
	// description, the only place a chat model can read it.
	dst = append(dst, `,"parameters":{"type":"object","properties":{"input":{"type":"string","description":`...)
	f := tool.Get("format")
	if string(f.GetStringBytes("type")) == "grammar" && f.Get("definition") != nil {
		t.scratch = append(t.scratch[:0], "The raw input of the tool, a string in this "...)
		t.scratch = append(t.scratch, f.GetStringBytes("syntax")...)
		t.scratch = append(t.scratch, " grammar:\n"...)
		t.scratch = append(t.scratch, f.GetStringBytes("definition")...)
		dst = openai.AppendJSONString(dst, t.scratch)
	} else {
		dst = append(dst, `"The raw input of the tool, free-form text."`...)
	}
	return append(dst, `}},"required":["input"],"additionalProperties":false}}}`...), nil
}

func (t *Translator) appendToolChoice(dst []byte, tc *fastjson.Value) ([]byte, *Error) {
	switch tc.Type() {
	case fastjson.TypeString:
		switch string(tc.GetStringBytes()) {
		case "auto", "none", "required":
			dst = append(dst, `,"tool_choice":`...)
			return t.appendJSON(dst, tc), nil
		}
		return dst, invalid("tool_choice", "invalid_value", "Invalid 'tool_choice': expected auto, none, required or an object.")
	case fastjson.TypeObject:
		switch string(tc.GetStringBytes("type")) {
		case "function", "custom":
			name := tc.GetStringBytes("name")
			if len(name) == 0 {
				return dst, invalid("tool_choice.name", "missing_required_parameter", "Missing required parameter: 'tool_choice.name'.")
			}
			dst = append(dst, `,"tool_choice":{"type":"function","function":{"name":`...)
			dst = t.appendJSON(dst, tc.Get("name"))
			return append(dst, "}}"...), nil
		case "allowed_tools":
			// Chat has no allowed-subset form; the mode is kept and the subset widened to all tools.
			mode := tc.Get("mode")
			if mode != nil && mode.Type() == fastjson.TypeString {
				dst = append(dst, `,"tool_choice":`...)
				return t.appendJSON(dst, mode), nil
			}
			return dst, nil
		}
		return dst, unsupported("tool_choice.type", "This 'tool_choice' names a hosted tool that this upstream cannot run.")
	}
	return dst, invalid("tool_choice", "invalid_type", "Invalid type for 'tool_choice'.")
}

func (t *Translator) appendFormat(dst []byte, f *fastjson.Value) ([]byte, *Error) {
	if f == nil || f.Type() == fastjson.TypeNull {
		return dst, nil
	}
	switch string(f.GetStringBytes("type")) {
	case "text":
		return dst, nil
	case "json_object":
		return append(dst, `,"response_format":{"type":"json_object"}`...), nil
	case "json_schema":
		name, schema := f.Get("name"), f.Get("schema")
		if name == nil || name.Type() != fastjson.TypeString {
			return dst, invalid("text.format.name", "missing_required_parameter", "Missing required parameter: 'text.format.name'.")
		}
		if schema == nil || schema.Type() != fastjson.TypeObject {
			return dst, invalid("text.format.schema", "missing_required_parameter", "Missing required parameter: 'text.format.schema'.")
		}
		dst = append(dst, `,"response_format":{"type":"json_schema","json_schema":{"name":`...)
		dst = t.appendJSON(dst, name)
		dst = append(dst, `,"schema":`...)
		dst = t.appendJSON(dst, schema)
		for _, k := range [...]string{"strict", "description"} {
			if kv := f.Get(k); kv != nil && kv.Type() != fastjson.TypeNull {
				dst = append(dst, ',', '"')
				dst = append(dst, k...)
				dst = append(dst, '"', ':')
				dst = t.appendJSON(dst, kv)
			}
		}
		return append(dst, "}}"...), nil
	}
	return dst, invalid("text.format.type", "invalid_value", "Invalid 'text.format.type': expected text, json_object or json_schema.")
}

// buildEcho records the request fields a Response object repeats.
func (t *Translator) buildEcho(v *fastjson.Value) {
	b := t.echo[:0]
	raw := func(key, def string) {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		if fv := v.Get(key); fv != nil && fv.Type() != fastjson.TypeNull {
			b = t.appendJSON(b, fv)
		} else {
			b = append(b, def...)
		}
	}
	raw("instructions", "null")
	raw("max_output_tokens", "null")
	raw("metadata", "{}")
	raw("parallel_tool_calls", "true")
	b = append(b, `,"previous_response_id":null`...)
	raw("prompt_cache_key", "null")
	b = append(b, `,"reasoning":{"effort":`...)
	if e := v.Get("reasoning", "effort"); e != nil && e.Type() == fastjson.TypeString {
		b = t.appendJSON(b, e)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"summary":`...)
	if s := v.Get("reasoning", "summary"); s != nil && s.Type() == fastjson.TypeString {
		b = t.appendJSON(b, s)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, '}')
	raw("service_tier", `"auto"`)
	b = append(b, `,"store":false`...)
	raw("temperature", "1.0")
	raw("text", `{"format":{"type":"text"}}`)
	raw("tool_choice", `"auto"`)
	raw("tools", "[]")
	raw("top_p", "1.0")
	b = append(b, `,"truncation":"disabled"`...)
	raw("user", "null")
	t.echo = b
}

// appendJSON re-renders a parsed value. Strings go through the one JSON escaper of router/openai
// (fastjson's own escapes through strconv, several times slower on large tool schemas). Objects are
// walked with one visitor closure made once per Translator, so re-rendering allocates nothing.
func (t *Translator) appendJSON(dst []byte, v *fastjson.Value) []byte {
	t.out = dst
	t.render(v)
	return t.out
}

func (t *Translator) render(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeString:
		t.out = openai.AppendJSONString(t.out, v.GetStringBytes())
	case fastjson.TypeObject:
		if t.visit == nil {
			t.visit = func(k []byte, e *fastjson.Value) {
				if top := len(t.first) - 1; t.first[top] {
					t.first[top] = false
				} else {
					t.out = append(t.out, ',')
				}
				t.out = openai.AppendJSONString(t.out, k)
				t.out = append(t.out, ':')
				t.render(e)
			}
		}
		t.out = append(t.out, '{')
		t.first = append(t.first, true)
		v.GetObject().Visit(t.visit)
		t.first = t.first[:len(t.first)-1]
		t.out = append(t.out, '}')
	case fastjson.TypeArray:
		t.out = append(t.out, '[')
		for i, e := range v.GetArray() {
			if i > 0 {
				t.out = append(t.out, ',')
			}
			t.render(e)
		}
		t.out = append(t.out, ']')
	default:
		t.out = v.MarshalTo(t.out)
	}
}
