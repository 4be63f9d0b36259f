package responses

import (
	"errors"
	"strings"
	"testing"
)

// Requests a chat upstream cannot serve get a 400 naming the field, never a panic.
func TestRequestErrors(t *testing.T) {
	for _, c := range []struct {
		name, body, param string
		kind              error
	}{
		{"not json", `{"model":`, "", ErrInvalidRequest},
		{"not an object", `[1]`, "", ErrInvalidRequest},
		{"no model", `{"input":"hi"}`, "model", ErrInvalidRequest},
		{"no input", `{"model":"m"}`, "input", ErrInvalidRequest},
		{"input number", `{"model":"m","input":3}`, "input", ErrInvalidRequest},
		{"empty input", `{"model":"m","input":[]}`, "input", ErrInvalidRequest},
		{"previous_response_id", `{"model":"m","input":"hi","previous_response_id":"resp_1"}`, "previous_response_id", ErrUnsupported},
		{"background", `{"model":"m","input":"hi","background":true}`, "background", ErrUnsupported},
		{"conversation", `{"model":"m","input":"hi","conversation":"conv_1"}`, "conversation", ErrUnsupported},
		{"item not object", `{"model":"m","input":["hi"]}`, "input[0]", ErrInvalidRequest},
		{"unknown item type", `{"model":"m","input":[{"type":"local_shell_call"}]}`, "input[0].type", ErrUnsupported},
		{"item without type", `{"model":"m","input":[{"content":"x"}]}`, "input[0].type", ErrInvalidRequest},
		{"item_reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0]", ErrUnsupported},
		{"bad role", `{"model":"m","input":[{"role":"tool","content":"x"}]}`, "input[0].role", ErrInvalidRequest},
		{"no content", `{"model":"m","input":[{"role":"user"}]}`, "input[0].content", ErrInvalidRequest},
		{"unknown part", `{"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "input[0].content[0].type", ErrUnsupported},
		{"image by file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}`, "input[0].content[0].file_id", ErrUnsupported},
		{"image in system", `{"model":"m","input":[{"role":"system","content":[{"type":"input_image","image_url":"x"}]}]}`, "input[0].content[0].type", ErrUnsupported},
		{"call without call_id", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id", ErrInvalidRequest},
		{"output without output", `{"model":"m","input":[{"type":"function_call_output","call_id":"c"}]}`, "input[0].output", ErrInvalidRequest},
		{"hosted tool", `{"model":"m","input":"hi","tools":[{"type":"image_generation"}]}`, "tools[0]", ErrUnsupported},
		{"web_search not optional", `{"model":"m","input":"hi","tools":[{"type":"function","name":"f"},{"type":"web_search"}]}`, "tools[1]", ErrUnsupported},
		{"unknown tool", `{"model":"m","input":"hi","tools":[{"type":"teleport"}]}`, "tools[0].type", ErrUnsupported},
		{"tool without name", `{"model":"m","input":"hi","tools":[{"type":"function"}]}`, "tools[0].name", ErrInvalidRequest},
		{"tools not array", `{"model":"m","input":"hi","tools":{}}`, "tools", ErrInvalidRequest},
		{"bad tool_choice", `{"model":"m","input":"hi","tools":[{"type":"function","name":"f"}],"tool_choice":"sometimes"}`, "tool_choice", ErrInvalidRequest},
		{"bad format", `{"model":"m","input":"hi","text":{"format":{"type":"yaml"}}}`, "text.format.type", ErrInvalidRequest},
		{"schema without name", `{"model":"m","input":"hi","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format.name", ErrInvalidRequest},
		{"negative max_output_tokens", `{"model":"m","input":"hi","max_output_tokens":-1}`, "max_output_tokens", ErrInvalidRequest},
		{"temperature string", `{"model":"m","input":"hi","temperature":"hot"}`, "temperature", ErrInvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tr Translator
			_, err := tr.AppendChatRequest(nil, []byte(c.body), Options{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Status != 400 || e.Param != c.param || !errors.Is(err, c.kind) || e.Message == "" || e.Type != "invalid_request_error" {
				t.Fatalf("got %+v (is %v), want 400 param %q kind %v", e, errors.Unwrap(err), c.param, c.kind)
			}
		})
	}
}

// A hosted tool marked optional is dropped, and a tool list left empty drops tool_choice and
// parallel_tool_calls too (chat upstreams reject them without tools).
func TestOptionalToolsDropped(t *testing.T) {
	var tr Translator
	body := `{"model":"m","input":"hi","tools":[{"type":"web_search_2025_08_26"},{"type":"image_generation"}],"tool_choice":"auto","parallel_tool_calls":true}`
	chat, err := tr.AppendChatRequest(nil, []byte(body), Options{Optional: ParseToolSet([]byte(" web_search , image_generation,bogus"))})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`; string(chat) != want {
		t.Fatalf("got %s\nwant %s", chat, want)
	}
}

// Upstream answers that are not chat completions are a 502, and a stream event that is not JSON
// is an error the router ends with response.failed.
func TestUpstreamErrors(t *testing.T) {
	tr := answerTranslator(t)
	for _, body := range []string{``, `[]`, `{"choices":[]}`, `{"choices":[{"index":0}]}`} {
		if _, err := tr.AppendResponse(nil, []byte(body)); !errors.Is(err, ErrUpstream) {
			t.Errorf("%q: err = %v", body, err)
		}
	}
	var s Stream
	s.Reset(tr)
	if _, err := s.Chunk(nil, []byte(`not json`)); !errors.Is(err, ErrUpstream) {
		t.Fatalf("err = %v", err)
	}
	out := s.Fail(nil, FailCode(429, ""), "Rate limited upstream.")
	if !strings.Contains(string(out), `"type":"response.failed"`) || !strings.Contains(string(out), `"code":"rate_limit_exceeded"`) || !s.Finished() {
		t.Fatalf("fail events: %s", out)
	}
	if more := s.Fail(nil, "server_error", "again"); len(more) != 0 {
		t.Fatalf("a second Fail emitted %s", more)
	}
}

func TestFailCode(t *testing.T) {
	for _, c := range []struct {
		status int
		code   string
		want   string
	}{
		{429, "", "rate_limit_exceeded"}, {429, "insufficient_quota", "insufficient_quota"},
		{400, "context_length_exceeded", "context_length_exceeded"}, {400, "model_context_window_exceeded", "context_length_exceeded"},
		{503, "ServiceUnavailableException", "server_error"}, {500, "", "server_error"},
	} {
		if got := FailCode(c.status, c.code); got != c.want {
			t.Errorf("FailCode(%d, %q) = %q, want %q", c.status, c.code, got, c.want)
		}
	}
}
