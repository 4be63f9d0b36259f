package mockcloud

import (
	"strings"

	"github.com/valyala/fastjson"
)

// This file reads the request bodies the mocks understand (OpenAI chat / completions / embeddings /
// responses, Bedrock Converse) into small plain structs. It uses fastjson because the mocks are the
// upstream in load benchmarks; every string is copied out before the parser goes back to the pool.

var parsers fastjson.ParserPool

// reqError is a request the cloud rejects with 400; param names the offending field.
type reqError struct {
	param string
	msg   string
}

func (e *reqError) Error() string { return e.msg }

var errBadJSON = &reqError{msg: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP client correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"}

// forcedTool is the tool call the mock answers with when the request forces one.
type forcedTool struct {
	name string
	args string // JSON object text; the raw input when freeform
	// freeform: the directive gave a string, the input of a custom tool (directive.go).
	freeform bool
}

// genReq is what the mocks need from any generation request.
type genReq struct {
	model        string
	stream       bool
	includeUsage bool
	lastUser     string // text of the last user message (the prompt the Reply func sees)
	promptChars  int    // characters of every message, for the usage estimate
	messages     int
	maxTokens    int // 0 = unlimited
	tool         *forcedTool

	// embeddings
	inputs []string
	base64 bool
	dims   int

	instructions string // responses

	// toolResult is set when the newest input is a tool's result: the mock answers by quoting it
	// (directive.go). toolName names the call when the history tells.
	toolResult *string
	toolName   string
	// custom lists the tools a Responses request declares as "custom" (freeform).
	custom map[string]bool
}

// applyDirective lets a directive in the newest user text override the answer, unless the newest
// input is a tool result (which is answered in text).
func (r *genReq) applyDirective() {
	if r.toolResult != nil {
		r.tool = nil
		return
	}
	if d := parseDirective(r.lastUser); d != nil {
		r.tool = d
	}
}

func (r *genReq) promptTokens() int { return estimateTokens(r.promptChars) + 3*r.messages }

// contentText returns the text of an OpenAI content value: a string or an array of text parts.
func contentText(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeArray:
		var b strings.Builder
		for _, p := range v.GetArray() {
			switch string(p.GetStringBytes("type")) {
			case "text", "input_text", "output_text":
				b.Write(p.GetStringBytes("text"))
			}
		}
		return b.String()
	}
	return ""
}

// parseChat reads a chat.completions body (OpenAI, Azure, Bedrock's and Vertex's OpenAI-compatible
// endpoints). requireModel is false for Azure's deployment-scoped path, where the body model is ignored.
func parseChat(body []byte, requireModel bool) (*genReq, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, errBadJSON
	}
	r := &genReq{model: string(v.GetStringBytes("model"))}
	if requireModel && r.model == "" {
		return nil, &reqError{param: "model", msg: "you must provide a model parameter"}
	}
	msgs := v.GetArray("messages")
	if len(msgs) == 0 {
		if v.Get("messages") == nil {
			return nil, &reqError{param: "messages", msg: "Missing required parameter: 'messages'."}
		}
		return nil, &reqError{param: "messages", msg: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead."}
	}
	names := map[string]string{} // tool_call_id → function name
	for i, m := range msgs {
		text := contentText(m.Get("content"))
		r.promptChars += len(text)
		r.messages++
		switch string(m.GetStringBytes("role")) {
		case "user":
			r.lastUser = text
		case "assistant":
			for _, tc := range m.GetArray("tool_calls") {
				names[string(tc.GetStringBytes("id"))] = string(tc.GetStringBytes("function", "name"))
			}
		case "tool":
			if i == len(msgs)-1 {
				r.toolResult = &text
				r.toolName = names[string(m.GetStringBytes("tool_call_id"))]
			}
		}
	}
	r.stream = v.GetBool("stream")
	r.includeUsage = v.GetBool("stream_options", "include_usage")
	r.maxTokens = v.GetInt("max_completion_tokens")
	if r.maxTokens == 0 {
		r.maxTokens = v.GetInt("max_tokens")
	}
	r.tool = forcedOpenAITool(v, r.lastUser)
	r.applyDirective()
	return r, nil
}

// forcedOpenAITool returns the tool call for tool_choice "required" or a named function.
func forcedOpenAITool(v *fastjson.Value, text string) *forcedTool {
	tools := v.GetArray("tools")
	if len(tools) == 0 {
		return nil
	}
	tc := v.Get("tool_choice")
	if tc == nil {
		return nil
	}
	want := ""
	switch tc.Type() {
	case fastjson.TypeString:
		if string(tc.GetStringBytes()) != "required" {
			return nil
		}
	case fastjson.TypeObject:
		want = string(tc.GetStringBytes("function", "name"))
		if want == "" {
			want = string(tc.GetStringBytes("name")) // Responses API shape
		}
		if want == "" {
			return nil
		}
	default:
		return nil
	}
	for _, t := range tools {
		fn := t.Get("function")
		if fn == nil {
			fn = t // Responses API tools are flat
		}
		name := string(fn.GetStringBytes("name"))
		if want == "" || name == want {
			return &forcedTool{name: name, args: toolArgs(fn.Get("parameters"), text)}
		}
	}
	return nil
}

// toolArgs builds a JSON object that satisfies the top level of a JSON Schema: string properties
// get the prompt text, numbers 1, booleans true, enums their first value.
func toolArgs(schema *fastjson.Value, text string) string {
	b := []byte{'{'}
	first := true
	if props := schema.GetObject("properties"); props != nil {
		props.Visit(func(key []byte, prop *fastjson.Value) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendJSONString(b, string(key))
			b = append(b, ':')
			if enum := prop.GetArray("enum"); len(enum) > 0 {
				b = enum[0].MarshalTo(b)
				return
			}
			switch string(prop.GetStringBytes("type")) {
			case "integer", "number":
				b = append(b, '1')
			case "boolean":
				b = append(b, "true"...)
			case "array":
				b = append(b, "[]"...)
			case "object":
				b = append(b, "{}"...)
			default:
				b = appendJSONString(b, text)
			}
		})
	}
	return string(append(b, '}'))
}

// parseCompletion reads a legacy /v1/completions body.
func parseCompletion(body []byte, requireModel bool) (*genReq, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, errBadJSON
	}
	r := &genReq{model: string(v.GetStringBytes("model"))}
	if requireModel && r.model == "" {
		return nil, &reqError{param: "model", msg: "you must provide a model parameter"}
	}
	pv := v.Get("prompt")
	switch {
	case pv == nil:
		return nil, &reqError{param: "prompt", msg: "Missing required parameter: 'prompt'."}
	case pv.Type() == fastjson.TypeString:
		r.lastUser = string(pv.GetStringBytes())
	case pv.Type() == fastjson.TypeArray:
		for _, e := range pv.GetArray() {
			r.lastUser = string(e.GetStringBytes())
		}
	default:
		return nil, &reqError{param: "prompt", msg: "Invalid type for 'prompt'."}
	}
	r.promptChars, r.messages = len(r.lastUser), 0
	r.stream = v.GetBool("stream")
	r.includeUsage = v.GetBool("stream_options", "include_usage")
	r.maxTokens = v.GetInt("max_tokens")
	return r, nil
}

// parseEmbeddings reads an /v1/embeddings body.
func parseEmbeddings(body []byte, requireModel bool) (*genReq, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, errBadJSON
	}
	r := &genReq{model: string(v.GetStringBytes("model"))}
	if requireModel && r.model == "" {
		return nil, &reqError{param: "model", msg: "you must provide a model parameter"}
	}
	in := v.Get("input")
	switch {
	case in == nil:
		return nil, &reqError{param: "input", msg: "Missing required parameter: 'input'."}
	case in.Type() == fastjson.TypeString:
		r.inputs = []string{string(in.GetStringBytes())}
	case in.Type() == fastjson.TypeArray:
		for _, e := range in.GetArray() {
			if e.Type() == fastjson.TypeString {
				r.inputs = append(r.inputs, string(e.GetStringBytes()))
			} else {
				r.inputs = append(r.inputs, e.String()) // token ids: embed their JSON text
			}
		}
	default:
		return nil, &reqError{param: "input", msg: "Invalid type for 'input'."}
	}
	if len(r.inputs) == 0 {
		return nil, &reqError{param: "input", msg: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."}
	}
	for _, s := range r.inputs {
		r.promptChars += len(s)
	}
	switch f := string(v.GetStringBytes("encoding_format")); f {
	case "", "float":
	case "base64":
		r.base64 = true
	default:
		return nil, &reqError{param: "encoding_format", msg: "Invalid value for 'encoding_format': '" + f + "'. Supported values are: 'float' and 'base64'."}
	}
	r.dims = v.GetInt("dimensions")
	if r.dims < 0 || r.dims > 4096 {
		return nil, &reqError{param: "dimensions", msg: "Invalid value for 'dimensions'."}
	}
	return r, nil
}

// parseResponses reads a /v1/responses body.
func parseResponses(body []byte) (*genReq, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, errBadJSON
	}
	r := &genReq{model: string(v.GetStringBytes("model"))}
	if r.model == "" {
		return nil, &reqError{param: "model", msg: "Missing required parameter: 'model'."}
	}
	in := v.Get("input")
	switch {
	case in == nil:
		return nil, &reqError{param: "input", msg: "Missing required parameter: 'input'."}
	case in.Type() == fastjson.TypeString:
		r.lastUser = string(in.GetStringBytes())
		r.promptChars, r.messages = len(r.lastUser), 1
	case in.Type() == fastjson.TypeArray:
		items := in.GetArray()
		names := map[string]string{} // call_id → tool name
		for i, item := range items {
			t := string(item.GetStringBytes("type"))
			switch t {
			case "function_call", "custom_tool_call":
				names[string(item.GetStringBytes("call_id"))] = string(item.GetStringBytes("name"))
				continue
			case "function_call_output", "custom_tool_call_output":
				if i == len(items)-1 {
					out := outputText(item.Get("output"))
					r.toolResult = &out
					r.toolName = names[string(item.GetStringBytes("call_id"))]
				}
				continue
			}
			if t != "" && t != "message" {
				continue
			}
			text := contentText(item.Get("content"))
			r.promptChars += len(text)
			r.messages++
			if string(item.GetStringBytes("role")) == "user" {
				r.lastUser = text
			}
		}
	default:
		return nil, &reqError{param: "input", msg: "Invalid type for 'input'."}
	}
	r.instructions = string(v.GetStringBytes("instructions"))
	r.promptChars += len(r.instructions)
	r.stream = v.GetBool("stream")
	r.maxTokens = v.GetInt("max_output_tokens")
	for _, t := range v.GetArray("tools") {
		if string(t.GetStringBytes("type")) == "custom" {
			if r.custom == nil {
				r.custom = map[string]bool{}
			}
			r.custom[string(t.GetStringBytes("name"))] = true
		}
	}
	r.tool = forcedOpenAITool(v, r.lastUser)
	r.applyDirective()
	return r, nil
}

// outputText is the text of a function_call_output's output: a string, or its text parts.
func outputText(v *fastjson.Value) string {
	if v != nil && v.Type() == fastjson.TypeObject {
		return string(v.GetStringBytes("content")) // Codex's failure shape
	}
	return contentText(v)
}
