package piitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Shapes are the request bodies a sample's text is put in, one per
// text-bearing field of the OpenAI API: chat message content (string and
// parts), tool call arguments (JSON inside a JSON string), tool results,
// Responses input (string, items, instructions, function_call_output),
// completions prompt and embeddings input.
var Shapes = []string{
	"chat-content", "chat-parts", "chat-tool-arguments", "chat-tool-result",
	"responses-input", "responses-items", "responses-instructions", "responses-function-output",
	"completions-prompt", "embeddings-input",
}

// Body returns the request body of shape with text in its text field. With
// escapeAll, every non-ASCII character and every '@' is written as a \u
// escape, so that the plugin must decode escapes before matching
// (`jane\u0040example.com` is an e-mail address).
func Body(shape, text string, escapeAll bool) []byte {
	var v any
	switch shape {
	case "chat-content":
		v = map[string]any{"model": "gpt-5.5", "temperature": 0, "messages": []any{
			map[string]any{"role": "system", "content": "You are a helpful assistant."},
			map[string]any{"role": "user", "content": text},
		}}
	case "chat-parts":
		v = map[string]any{"model": "gpt-5.5", "messages": []any{
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": text}}},
		}}
	case "chat-tool-arguments":
		args, _ := json.Marshal(map[string]any{"query": text, "limit": 3})
		v = map[string]any{"model": "gpt-5.5", "messages": []any{
			map[string]any{"role": "user", "content": "look it up"},
			map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{
				"id": "call_1", "type": "function", "function": map[string]any{"name": "lookup", "arguments": string(args)},
			}}},
		}}
	case "chat-tool-result":
		v = map[string]any{"model": "gpt-5.5", "messages": []any{
			map[string]any{"role": "tool", "tool_call_id": "call_1", "content": text},
		}}
	case "responses-input":
		v = map[string]any{"model": "gpt-5.5", "input": text}
	case "responses-items":
		v = map[string]any{"model": "gpt-5.5", "input": []any{map[string]any{
			"role": "user", "content": []any{map[string]any{"type": "input_text", "text": text}},
		}}}
	case "responses-instructions":
		v = map[string]any{"model": "gpt-5.5", "instructions": text, "input": "hello"}
	case "responses-function-output":
		v = map[string]any{"model": "gpt-5.5", "input": []any{map[string]any{
			"type": "function_call_output", "call_id": "call_1", "output": text,
		}}}
	case "completions-prompt":
		v = map[string]any{"model": "gpt-3.5-turbo-instruct", "prompt": text}
	case "embeddings-input":
		v = map[string]any{"model": "text-embedding-3-small", "input": []any{"first input", text}}
	default:
		panic("piitest: unknown shape " + shape)
	}
	out := marshal(v)
	if escapeAll {
		out = escapeStrings(out)
	}
	return out
}

// escapeStrings rewrites every non-ASCII character and '@' inside the JSON
// text's strings as \u escapes (surrogate pairs above the BMP).
func escapeStrings(b []byte) []byte {
	var out []byte
	in := false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"' && !escapedAt(b, i):
			in = !in
		case in && c == '@':
			out = append(out, `\u0040`...)
			i++
			continue
		case in && c >= 0x80:
			r, n := utf8.DecodeRune(b[i:])
			if r > 0xFFFF {
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			i += n
			continue
		}
		out = append(out, c)
		i++
	}
	return out
}

func escapedAt(b []byte, i int) bool {
	n := 0
	for i > 0 && b[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

// Texts returns every string value of a JSON body, and of JSON objects
// nested in string values (tool call arguments), decoded: what a cloud
// would read.
func Texts(body []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
			if strings.HasPrefix(x, "{") {
				var inner any
				if json.Unmarshal([]byte(x), &inner) == nil {
					walk(inner)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out, nil
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSpace(b.Bytes())
}
