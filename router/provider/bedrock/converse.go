package bedrock

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/valyala/fastjson"

	sse "github.com/switchyard-dev/switchyard/router/openai"
)

// Request fields consumed by the translation, or OpenAI transport and
// bookkeeping fields that mean nothing to the model; every other top-level
// field goes to additionalModelRequestFields.
var notForwarded = map[string]bool{
	"model": true, "messages": true, "stream": true, "stream_options": true,
	"temperature": true, "top_p": true, "max_tokens": true, "max_completion_tokens": true,
	"stop": true, "tools": true, "tool_choice": true,
	"n": true, "parallel_tool_calls": true, "logprobs": true, "top_logprobs": true,
	"user": true, "safety_identifier": true, "prompt_cache_key": true,
	"metadata": true, "store": true, "service_tier": true,
}

// turn is one Converse message being assembled: a role and a span of
// comma-separated content blocks in the scratch buffer.
type turn struct {
	user       bool
	start, end int
}

// appendConverseRequest appends the Converse body equivalent to the OpenAI
// chat request body to dst.
func appendConverseRequest(dst []byte, p *fastjson.Parser, body []byte) ([]byte, error) {
	// fastjson's parser is lenient with numbers ("." parses); the strict
	// validator runs first because numbers are copied through verbatim.
	if err := fastjson.ValidateBytes(body); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrTranslate, err)
	}
	v, err := p.ParseBytes(body)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", ErrTranslate, err)
	}
	root, err := v.Object()
	if err != nil {
		return dst, fmt.Errorf("%w: body is not a JSON object", ErrTranslate)
	}
	msgs := v.GetArray("messages")
	if len(msgs) == 0 {
		return dst, fmt.Errorf("%w: messages is empty", ErrTranslate)
	}

	var sys, blocks []byte
	var turns []turn
	// add appends one block to the conversation, merging it into the last
	// message when the role repeats: Converse requires user and assistant to
	// alternate, and tool results travel as user messages.
	add := func(user bool, block []byte) {
		if n := len(turns); n > 0 && turns[n-1].user == user && turns[n-1].end == len(blocks) {
			blocks = append(blocks, ',')
			blocks = append(blocks, block...)
			turns[n-1].end = len(blocks)
			return
		}
		start := len(blocks)
		blocks = append(blocks, block...)
		turns = append(turns, turn{user: user, start: start, end: len(blocks)})
	}
	var blk []byte
	for i, m := range msgs {
		role := string(m.GetStringBytes("role"))
		content := m.Get("content")
		switch role {
		case "system", "developer":
			if sys, err = appendTextBlocks(sys, content, i); err != nil {
				return dst, err
			}
		case "user":
			blk, err = appendContentBlocks(blk[:0], content, i, true)
			if err != nil {
				return dst, err
			}
			if len(blk) > 0 {
				add(true, blk)
			}
		case "assistant":
			blk, err = appendContentBlocks(blk[:0], content, i, false)
			if err != nil {
				return dst, err
			}
			for _, tc := range m.GetArray("tool_calls") {
				if len(blk) > 0 {
					blk = append(blk, ',')
				}
				if blk, err = appendToolUse(blk, tc, i); err != nil {
					return dst, err
				}
			}
			if len(blk) > 0 {
				add(false, blk)
			}
		case "tool":
			blk = append(blk[:0], `{"toolResult":{"toolUseId":`...)
			blk = sse.AppendJSONString(blk, m.GetStringBytes("tool_call_id"))
			blk = append(blk, `,"content":[`...)
			n := len(blk)
			if blk, err = appendTextBlocks(blk, content, i); err != nil {
				return dst, err
			}
			if len(blk) == n { // Converse needs at least one content block
				blk = append(blk, `{"text":""}`...)
			}
			blk = append(blk, "]}}"...)
			add(true, blk)
		default:
			return dst, fmt.Errorf("%w: messages[%d]: role %q", ErrTranslate, i, role)
		}
	}

	dst = append(dst, `{"messages":[`...)
	for i, t := range turns {
		if i > 0 {
			dst = append(dst, ',')
		}
		if t.user {
			dst = append(dst, `{"role":"user","content":[`...)
		} else {
			dst = append(dst, `{"role":"assistant","content":[`...)
		}
		dst = append(dst, blocks[t.start:t.end]...)
		dst = append(dst, "]}"...)
	}
	dst = append(dst, ']')
	if len(sys) > 0 {
		dst = append(dst, `,"system":[`...)
		dst = append(dst, sys...)
		dst = append(dst, ']')
	}

	if dst, err = appendInferenceConfig(dst, v); err != nil {
		return dst, err
	}
	if dst, err = appendToolConfig(dst, v); err != nil {
		return dst, err
	}

	first := true
	root.Visit(func(k []byte, fv *fastjson.Value) {
		if notForwarded[string(k)] {
			return
		}
		if first {
			dst = append(dst, `,"additionalModelRequestFields":{`...)
			first = false
		} else {
			dst = append(dst, ',')
		}
		dst = sse.AppendJSONString(dst, k)
		dst = append(dst, ':')
		dst = fv.MarshalTo(dst)
	})
	if !first {
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// appendTextBlocks appends {"text":…} blocks, comma-separated, for a string or
// an array of text parts; other part types are refused.
func appendTextBlocks(dst []byte, content *fastjson.Value, msg int) ([]byte, error) {
	if content == nil {
		return dst, nil
	}
	switch content.Type() {
	case fastjson.TypeNull:
		return dst, nil
	case fastjson.TypeString:
		return appendTextBlock(dst, content.GetStringBytes()), nil
	case fastjson.TypeArray:
		for j, part := range content.GetArray() {
			if t := string(part.GetStringBytes("type")); t != "text" {
				return dst, fmt.Errorf("%w: messages[%d].content[%d]: part type %q where only text is allowed", ErrTranslate, msg, j, t)
			}
			dst = appendTextBlock(dst, part.GetStringBytes("text"))
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%w: messages[%d].content: want string or array", ErrTranslate, msg)
}

// appendTextBlock appends one text block, comma first if dst already holds
// blocks. Empty text is skipped: Converse rejects blank text blocks.
func appendTextBlock(dst, text []byte) []byte {
	if len(text) == 0 {
		return dst
	}
	if n := len(dst); n > 0 && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"text":`...)
	dst = sse.AppendJSONString(dst, text)
	return append(dst, '}')
}

// appendContentBlocks appends the blocks of a user or assistant message:
// text, and for users images given as data: URLs.
func appendContentBlocks(dst []byte, content *fastjson.Value, msg int, images bool) ([]byte, error) {
	if content == nil || content.Type() != fastjson.TypeArray {
		return appendTextBlocks(dst, content, msg)
	}
	for j, part := range content.GetArray() {
		switch t := string(part.GetStringBytes("type")); t {
		case "text":
			dst = appendTextBlock(dst, part.GetStringBytes("text"))
		case "image_url":
			if !images {
				return dst, fmt.Errorf("%w: messages[%d].content[%d]: image in a non-user message", ErrTranslate, msg, j)
			}
			var err error
			if dst, err = appendImageBlock(dst, part.GetStringBytes("image_url", "url"), msg, j); err != nil {
				return dst, err
			}
		default:
			return dst, fmt.Errorf("%w: messages[%d].content[%d]: part type %q", ErrTranslate, msg, j, t)
		}
	}
	return dst, nil
}

// appendImageBlock turns a data:image/…;base64 URL into a Converse image
// block. Converse cannot fetch remote URLs, and the router does not fetch on a
// client's behalf, so http(s) URLs are refused.
func appendImageBlock(dst, u []byte, msg, part int) ([]byte, error) {
	rest, ok := bytes.CutPrefix(u, []byte("data:"))
	if !ok {
		return dst, fmt.Errorf("%w: messages[%d].content[%d]: only data: image URLs can be sent to Converse", ErrTranslate, msg, part)
	}
	mime, data, ok := bytes.Cut(rest, []byte(";base64,"))
	if !ok {
		return dst, fmt.Errorf("%w: messages[%d].content[%d]: image data URL is not base64", ErrTranslate, msg, part)
	}
	var format string
	switch string(mime) {
	case "image/png":
		format = "png"
	case "image/jpeg", "image/jpg":
		format = "jpeg"
	case "image/gif":
		format = "gif"
	case "image/webp":
		format = "webp"
	default:
		return dst, fmt.Errorf("%w: messages[%d].content[%d]: image type %q", ErrTranslate, msg, part, mime)
	}
	if n := len(dst); n > 0 && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"image":{"format":"`...)
	dst = append(dst, format...)
	dst = append(dst, `","source":{"bytes":`...)
	dst = sse.AppendJSONString(dst, data)
	return append(dst, "}}}"...), nil
}

// appendToolUse turns one OpenAI tool call into a toolUse block; its
// arguments, a JSON string, become the input object.
func appendToolUse(dst []byte, tc *fastjson.Value, msg int) ([]byte, error) {
	args := bytes.TrimSpace(tc.GetStringBytes("function", "arguments"))
	if len(args) == 0 {
		args = []byte("{}")
	}
	if args[0] != '{' || fastjson.ValidateBytes(args) != nil {
		return dst, fmt.Errorf("%w: messages[%d]: tool call arguments are not a JSON object", ErrTranslate, msg)
	}
	dst = append(dst, `{"toolUse":{"toolUseId":`...)
	dst = sse.AppendJSONString(dst, tc.GetStringBytes("id"))
	dst = append(dst, `,"name":`...)
	dst = sse.AppendJSONString(dst, tc.GetStringBytes("function", "name"))
	dst = append(dst, `,"input":`...)
	dst = appendCompact(dst, args)
	return append(dst, "}}"...), nil
}

// appendCompact appends valid JSON src without insignificant whitespace.
func appendCompact(dst, src []byte) []byte {
	inString, escaped := false, false
	for _, c := range src {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// appendInferenceConfig maps temperature, top_p, max_(completion_)tokens and
// stop; it writes nothing when none is set.
func appendInferenceConfig(dst []byte, v *fastjson.Value) ([]byte, error) {
	n := len(dst)
	dst = append(dst, `,"inferenceConfig":{`...)
	open := len(dst)
	field := func(name string, x *fastjson.Value) error {
		if x == nil || x.Type() == fastjson.TypeNull {
			return nil
		}
		if x.Type() != fastjson.TypeNumber {
			return fmt.Errorf("%w: %s must be a number", ErrTranslate, name)
		}
		if len(dst) > open {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `":`...)
		dst = x.MarshalTo(dst)
		return nil
	}
	maxTok := v.Get("max_completion_tokens")
	if maxTok == nil || maxTok.Type() == fastjson.TypeNull {
		maxTok = v.Get("max_tokens")
	}
	if err := field("maxTokens", maxTok); err != nil {
		return dst[:n], err
	}
	if err := field("temperature", v.Get("temperature")); err != nil {
		return dst[:n], err
	}
	if err := field("topP", v.Get("top_p")); err != nil {
		return dst[:n], err
	}
	if stop := v.Get("stop"); stop != nil && stop.Type() != fastjson.TypeNull {
		if len(dst) > open {
			dst = append(dst, ',')
		}
		dst = append(dst, `"stopSequences":[`...)
		switch stop.Type() {
		case fastjson.TypeString:
			dst = sse.AppendJSONString(dst, stop.GetStringBytes())
		case fastjson.TypeArray:
			for i, s := range stop.GetArray() {
				if s.Type() != fastjson.TypeString {
					return dst[:n], fmt.Errorf("%w: stop must be strings", ErrTranslate)
				}
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = sse.AppendJSONString(dst, s.GetStringBytes())
			}
		default:
			return dst[:n], fmt.Errorf("%w: stop must be a string or an array", ErrTranslate)
		}
		dst = append(dst, ']')
	}
	if len(dst) == open {
		return dst[:n], nil
	}
	return append(dst, '}'), nil
}

// appendToolConfig maps tools and tool_choice. tool_choice "none" sends no
// tools at all, which is how Converse expresses it.
func appendToolConfig(dst []byte, v *fastjson.Value) ([]byte, error) {
	tools := v.GetArray("tools")
	if len(tools) == 0 {
		return dst, nil
	}
	var choice []byte
	if tc := v.Get("tool_choice"); tc != nil {
		switch tc.Type() {
		case fastjson.TypeString:
			switch string(tc.GetStringBytes()) {
			case "none":
				return dst, nil
			case "auto":
				choice = []byte(`{"auto":{}}`)
			case "required":
				choice = []byte(`{"any":{}}`)
			default:
				return dst, fmt.Errorf("%w: tool_choice %q", ErrTranslate, tc.GetStringBytes())
			}
		case fastjson.TypeObject:
			name := tc.GetStringBytes("function", "name")
			if len(name) == 0 {
				return dst, fmt.Errorf("%w: tool_choice names no function", ErrTranslate)
			}
			choice = sse.AppendJSONString([]byte(`{"tool":{"name":`), name)
			choice = append(choice, "}}"...)
		case fastjson.TypeNull:
		default:
			return dst, fmt.Errorf("%w: tool_choice must be a string or an object", ErrTranslate)
		}
	}
	dst = append(dst, `,"toolConfig":{"tools":[`...)
	for i, t := range tools {
		if typ := string(t.GetStringBytes("type")); typ != "function" {
			return dst, fmt.Errorf("%w: tools[%d]: type %q (only function tools)", ErrTranslate, i, typ)
		}
		f := t.Get("function")
		if f == nil || len(f.GetStringBytes("name")) == 0 {
			return dst, fmt.Errorf("%w: tools[%d]: function has no name", ErrTranslate, i)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"toolSpec":{"name":`...)
		dst = sse.AppendJSONString(dst, f.GetStringBytes("name"))
		if d := f.GetStringBytes("description"); len(d) > 0 {
			dst = append(dst, `,"description":`...)
			dst = sse.AppendJSONString(dst, d)
		}
		dst = append(dst, `,"inputSchema":{"json":`...)
		if ps := f.Get("parameters"); ps != nil && ps.Type() == fastjson.TypeObject {
			dst = ps.MarshalTo(dst)
		} else {
			dst = append(dst, `{"type":"object","properties":{}}`...)
		}
		dst = append(dst, "}}}"...)
	}
	dst = append(dst, ']')
	if choice != nil {
		dst = append(dst, `,"toolChoice":`...)
		dst = append(dst, choice...)
	}
	return append(dst, '}'), nil
}

// finishReason maps a Converse stopReason to OpenAI's finish_reason.
func finishReason(stop []byte) string {
	switch string(stop) {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "guardrail_intervened", "content_filtered":
		return "content_filter"
	}
	// end_turn, stop_sequence, malformed_* and anything new.
	return "stop"
}

// appendUsage appends an OpenAI usage object from a Converse usage object.
func appendUsage(dst []byte, u *fastjson.Value) []byte {
	in, out := u.GetInt64("inputTokens"), u.GetInt64("outputTokens")
	total := u.GetInt64("totalTokens")
	if total == 0 {
		total = in + out
	}
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, in, 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, out, 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, total, 10)
	if u.Exists("cacheReadInputTokens") {
		dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
		dst = strconv.AppendInt(dst, u.GetInt64("cacheReadInputTokens"), 10)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendConverseResponse appends the chat.completion equivalent of a Converse
// answer to dst.
func appendConverseResponse(dst []byte, p *fastjson.Parser, body []byte, model string, created int64) ([]byte, error) {
	if err := fastjson.ValidateBytes(body); err != nil {
		return dst, fmt.Errorf("bedrock: converse answer: %w", err)
	}
	v, err := p.ParseBytes(body)
	if err != nil {
		return dst, fmt.Errorf("bedrock: converse answer: %w", err)
	}
	msg := v.Get("output", "message")
	if msg == nil {
		return dst, fmt.Errorf("bedrock: converse answer has no output.message")
	}
	dst = append(dst, `{"id":"`...)
	dst = appendID(dst)
	dst = append(dst, `","object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, created, 10)
	dst = append(dst, `,"model":`...)
	dst = sse.AppendJSONString(dst, []byte(model))
	dst = append(dst, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)

	blocks := msg.GetArray("content")
	// Text blocks are joined; reasoningContent is dropped (OpenAI chat has no
	// field for it).
	var text []byte
	hasText := false
	for _, b := range blocks {
		if t := b.Get("text"); t != nil {
			text = append(text, t.GetStringBytes()...)
			hasText = true
		}
	}
	if hasText {
		dst = sse.AppendJSONString(dst, text)
	} else {
		dst = append(dst, "null"...)
	}
	n := 0
	for _, b := range blocks {
		tu := b.Get("toolUse")
		if tu == nil {
			continue
		}
		if n == 0 {
			dst = append(dst, `,"tool_calls":[`...)
		} else {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"id":`...)
		dst = sse.AppendJSONString(dst, tu.GetStringBytes("toolUseId"))
		dst = append(dst, `,"type":"function","function":{"name":`...)
		dst = sse.AppendJSONString(dst, tu.GetStringBytes("name"))
		dst = append(dst, `,"arguments":`...)
		var args []byte
		if in := tu.Get("input"); in != nil {
			args = in.MarshalTo(nil)
		} else {
			args = []byte("{}")
		}
		dst = sse.AppendJSONString(dst, args)
		dst = append(dst, "}}"...)
	}
	if n > 0 {
		dst = append(dst, ']')
	}
	dst = append(dst, `},"logprobs":null,"finish_reason":"`...)
	dst = append(dst, finishReason(v.GetStringBytes("stopReason"))...)
	dst = append(dst, `"}]`...)
	if u := v.Get("usage"); u != nil {
		dst = append(dst, `,"usage":`...)
		dst = appendUsage(dst, u)
	}
	return append(dst, '}'), nil
}
