package mockcloud

import (
	"encoding/json"
	"strings"
)

// This file is the agent-loop directive: a prompt can make the mock call a tool, so tests can
// drive a real agent (Codex, an SDK's tool loop) through a whole round trip with no model.
//
//	[[call NAME ARGS]]
//
// in the newest user text makes the mock answer with a call of tool NAME, where ARGS is a JSON
// object (the call's arguments) or a JSON string (the input of a freeform "custom" tool; on chat
// dialects it becomes the arguments {"input": ARGS}). The call is a Responses function_call (or
// custom_tool_call when NAME is declared as a custom tool), a chat tool_calls entry, or a Converse
// toolUse block, each in the dialect's JSON and streamed shapes. When the newest input is the
// tool's result (a function_call_output / custom_tool_call_output item, a chat "tool" message, a
// Converse toolResult block), the mock answers with text quoting it:
//
//	Tool NAME returned: OUTPUT
//
// (NAME as the request's history names the call, or "call" when it cannot tell). The first
// directive in the text wins; text without one is answered as before.

const directiveOpen = "[[call "

// parseDirective finds the first well-formed directive in text.
func parseDirective(text string) *forcedTool {
	for {
		i := strings.Index(text, directiveOpen)
		if i < 0 {
			return nil
		}
		rest := text[i+len(directiveOpen):]
		text = rest
		sp := strings.IndexByte(rest, ' ')
		if sp <= 0 {
			continue
		}
		name := rest[:sp]
		args := strings.TrimLeft(rest[sp+1:], " ")
		n := jsonValueLen(args)
		if n == 0 || !strings.HasPrefix(strings.TrimLeft(args[n:], " "), "]]") {
			continue
		}
		raw := args[:n]
		if !json.Valid([]byte(raw)) {
			continue
		}
		if raw[0] == '"' {
			var s string
			_ = json.Unmarshal([]byte(raw), &s)
			return &forcedTool{name: name, args: s, freeform: true}
		}
		return &forcedTool{name: name, args: raw}
	}
}

// jsonValueLen returns the length of the JSON object or string at the start of s, by balancing
// braces outside strings; 0 when s starts with neither or never closes.
func jsonValueLen(s string) int {
	if s == "" || (s[0] != '{' && s[0] != '"') {
		return 0
	}
	depth, inStr := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
				if depth == 0 {
					return i + 1
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// chatArgs is the arguments string a chat tool call carries for t.
func (t *forcedTool) chatArgs() string {
	if !t.freeform {
		return t.args
	}
	return string(appendJSONString([]byte(`{"input":`), t.args)) + "}"
}

// toolReply is the text answering a tool result.
func toolReply(name, output string) string {
	if name == "" {
		name = "call"
	}
	return "Tool " + name + " returned: " + output
}
