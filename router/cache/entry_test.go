package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const (
	textJSON = `{"id":"chatcmpl-B9MH","object":"chat.completion","created":1741570283,"model":"gpt-4o-mini-2024-07-18",
 "choices":[{"index":0,"message":{"role":"assistant","content":"Hi! \"Quoted\" \u00e9 \n line <b>","refusal":null,"annotations":[]},
             "logprobs":null,"finish_reason":"stop"}],
 "usage":{"prompt_tokens":19,"completion_tokens":2,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0}},
 "service_tier":"default","system_fingerprint":"fp_44709d6fcb"}`

	toolJSON = `{"id":"chatcmpl-9","object":"chat.completion","created":1,"model":"gpt-4o-mini",
 "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
   {"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
   {"id":"call_def","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"CET\"}"}}]},
   "logprobs":null,"finish_reason":"tool_calls"}],
 "usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}}`

	twoChoicesJSON = `{"id":"c2","object":"chat.completion","created":5,"model":"m","choices":[
 {"index":0,"message":{"role":"assistant","content":"zero"},"logprobs":null,"finish_reason":"stop"},
 {"index":1,"message":{"role":"assistant","content":"one"},"logprobs":null,"finish_reason":"length"}]}`
)

// Streams as upstreams send them (reference/cloud-apis.md §1.4, §2.3).
var (
	textStream = []string{
		`{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`,
		`{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"x"}`,
		`{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}],"usage":null}`,
		`{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"lo \"\u00e9\""},"logprobs":null,"finish_reason":null}],"usage":null}`,
		`{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}`,
		`{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`,
		`[DONE]`,
	}
	toolStream = []string{
		`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`[DONE]`,
	}
)

// serve answers chat completions from *cur in the mode each request asks for,
// exactly as the router will: JSON, SSE, or SSE with the usage chunk.
func serve(t *testing.T, cur **Entry) *openai.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stream        bool `json:"stream"`
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		e := *cur
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write(e.SSEBody(req.StreamOptions.IncludeUsage))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(e.JSON)
	}))
	t.Cleanup(srv.Close)
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("test"), option.WithMaxRetries(0))
	return &c
}

func params(stream, usage bool) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:       "gpt-4o-mini",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		Temperature: openai.Float(0),
	}
	if usage {
		p.StreamOptions.IncludeUsage = openai.Bool(true)
	}
	return p
}

type streamed struct {
	acc       openai.ChatCompletionAccumulator
	chunks    int
	usageSeen bool
}

func stream(t *testing.T, c *openai.Client, usage bool) *streamed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := c.Chat.Completions.NewStreaming(ctx, params(true, usage))
	defer s.Close()
	out := &streamed{}
	for s.Next() {
		ch := s.Current()
		out.chunks++
		if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
			out.usageSeen = true
		}
		if !out.acc.AddChunk(ch) {
			t.Fatalf("accumulator refused chunk %d: %s", out.chunks, ch.RawJSON())
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return out
}

func complete(t *testing.T, c *openai.Client) *openai.ChatCompletion {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Chat.Completions.New(ctx, params(false, false))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func assemble(t *testing.T, payloads []string) *Entry {
	t.Helper()
	var a Assembler
	for _, p := range payloads {
		if err := a.Add([]byte(p)); err != nil {
			t.Fatalf("Add(%s): %v", p, err)
		}
	}
	e, err := a.Entry()
	if err != nil {
		t.Fatalf("Entry: %v", err)
	}
	return e
}

// TestJSONToStreamOpenAI: a stored JSON answer served to streamed requests.
func TestJSONToStreamOpenAI(t *testing.T) {
	e, err := NewEntryFromJSON([]byte(textJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.JSON, []byte(textJSON)) {
		t.Error("JSON form is not the upstream body")
	}
	c := serve(t, &e)
	const want = "Hi! \"Quoted\" é \n line <b>"

	js := complete(t, c)
	if js.Choices[0].Message.Content != want || js.Usage.TotalTokens != 21 {
		t.Errorf("JSON: content %q usage %d", js.Choices[0].Message.Content, js.Usage.TotalTokens)
	}

	for _, usage := range []bool{false, true} {
		s := stream(t, c, usage)
		got := s.acc.ChatCompletion
		if len(got.Choices) != 1 || got.Choices[0].Message.Content != want {
			t.Fatalf("usage=%v: choices %+v", usage, got.Choices)
		}
		if fr := got.Choices[0].FinishReason; fr != "stop" {
			t.Errorf("usage=%v: finish_reason %q", usage, fr)
		}
		if got.ID != "chatcmpl-B9MH" || got.Model != "gpt-4o-mini-2024-07-18" || got.SystemFingerprint != "fp_44709d6fcb" {
			t.Errorf("usage=%v: envelope id=%q model=%q fp=%q", usage, got.ID, got.Model, got.SystemFingerprint)
		}
		if s.usageSeen != usage {
			t.Errorf("usage chunk seen=%v, asked=%v", s.usageSeen, usage)
		}
		if usage && got.Usage.TotalTokens != 21 || usage && got.Usage.PromptTokens != 19 {
			t.Errorf("usage: %+v", got.Usage)
		}
		// role, content, finish (+ usage)
		if want := 3 + btoi(usage); s.chunks != want {
			t.Errorf("usage=%v: %d chunks, want %d", usage, s.chunks, want)
		}
	}
}

func TestToolCallsJSONToStreamOpenAI(t *testing.T) {
	e, err := NewEntryFromJSON([]byte(toolJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, &e)
	s := stream(t, c, true)
	ch := s.acc.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 2 {
		t.Fatalf("choice: %+v", ch)
	}
	for i, want := range [][3]string{{"call_abc", "get_weather", `{"city":"Paris"}`}, {"call_def", "get_time", `{"tz":"CET"}`}} {
		tc := ch.Message.ToolCalls[i]
		if tc.ID != want[0] || tc.Function.Name != want[1] || tc.Function.Arguments != want[2] {
			t.Errorf("tool call %d: %+v", i, tc)
		}
	}
	if s.acc.Usage.TotalTokens != 42 {
		t.Errorf("usage %+v", s.acc.Usage)
	}
}

func TestChoicesJSONToStreamOpenAI(t *testing.T) {
	e, err := NewEntryFromJSON([]byte(twoChoicesJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.SSE, e.SSEUsage) {
		t.Error("no usage stored, yet SSEUsage differs from SSE")
	}
	c := serve(t, &e)
	s := stream(t, c, true)
	got := s.acc.Choices
	if len(got) != 2 || got[0].Message.Content != "zero" || got[1].Message.Content != "one" ||
		got[0].FinishReason != "stop" || got[1].FinishReason != "length" {
		t.Errorf("choices: %+v", got)
	}
}

// TestStreamToJSONOpenAI: a stored streamed answer served to JSON requests,
// and back to streamed ones.
func TestStreamToJSONOpenAI(t *testing.T) {
	e := assemble(t, textStream)
	c := serve(t, &e)
	js := complete(t, c)
	if js.ID != "chatcmpl-123" || js.Created != 1694268190 || js.Model != "gpt-4o-mini" || js.SystemFingerprint != "fp_44709d6fcb" {
		t.Errorf("envelope: %+v", js)
	}
	if got := js.Choices[0].Message.Content; got != `Hello "é"` {
		t.Errorf("content %q", got)
	}
	if js.Choices[0].FinishReason != "stop" || js.Usage.TotalTokens != 10 || js.Usage.CompletionTokens != 1 {
		t.Errorf("finish %q usage %+v", js.Choices[0].FinishReason, js.Usage)
	}
	s := stream(t, c, true)
	if s.acc.Choices[0].Message.Content != `Hello "é"` || s.acc.Usage.TotalTokens != 10 {
		t.Errorf("re-streamed: %+v", s.acc.ChatCompletion)
	}

	e = assemble(t, toolStream)
	js = complete(t, c)
	m := js.Choices[0].Message
	if js.Choices[0].FinishReason != "tool_calls" || len(m.ToolCalls) != 1 || m.Content != "" {
		t.Fatalf("tool message: %+v", js.Choices[0])
	}
	if tc := m.ToolCalls[0]; tc.ID != "call_abc" || tc.Type != "function" || tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"city":"Paris"}` {
		t.Errorf("tool call: %+v", tc)
	}
	if !strings.Contains(string(e.JSON), `"content":null`) {
		t.Errorf("tool-call content should be null: %s", e.JSON)
	}
}

func TestEntryRejects(t *testing.T) {
	replace := func(s, old, new string) string { return strings.Replace(s, old, new, 1) }
	for _, tt := range []struct {
		name string
		body string
		want error
	}{
		{"not json", `{`, ErrInvalidJSON},
		{"error body", `{"error":{"message":"x","type":"server_error","param":null,"code":null}}`, ErrIncomplete},
		{"no choices", `{"id":"x","object":"chat.completion","choices":[]}`, ErrIncomplete},
		{"no finish_reason", replace(textJSON, `"finish_reason":"stop"`, `"finish_reason":null`), ErrIncomplete},
		{"logprobs", replace(textJSON, `"logprobs":null`, `"logprobs":{"content":[]}`), ErrUnsupported},
		{"audio", replace(textJSON, `"refusal":null`, `"audio":{"id":"a"}`), ErrUnsupported},
		{"annotations", replace(textJSON, `"annotations":[]`, `"annotations":[{"type":"url_citation"}]`), ErrUnsupported},
		{"chunk object", replace(textJSON, `"chat.completion"`, `"chat.completion.chunk"`), ErrInvalidJSON},
	} {
		if _, err := NewEntryFromJSON([]byte(tt.body)); !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestAssemblerRejects(t *testing.T) {
	for _, tt := range []struct {
		name     string
		payloads []string
		want     error
	}{
		{"no [DONE]", textStream[:len(textStream)-1], ErrIncomplete},
		{"no finish_reason", append(append([]string{}, textStream[:3]...), "[DONE]"), ErrIncomplete},
		{"error event", append(append([]string{}, textStream[:3]...), `{"error":{"message":"overloaded","type":"server_error"}}`, "[DONE]"), ErrIncomplete},
		{"no choices", []string{`{"id":"x","choices":[]}`, "[DONE]"}, ErrIncomplete},
		{"logprobs", []string{`{"id":"x","choices":[{"index":0,"delta":{"content":"a"},"logprobs":{"content":[]},"finish_reason":"stop"}]}`, "[DONE]"}, ErrUnsupported},
		{"garbage", []string{`{"id":`}, ErrInvalidJSON},
		{"data after [DONE]", []string{"[DONE]", `{}`}, ErrInvalidJSON},
	} {
		var a Assembler
		var err error
		for _, p := range tt.payloads {
			if err = a.Add([]byte(p)); err != nil {
				break
			}
		}
		if err == nil {
			_, err = a.Entry()
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestSSEFraming checks the wire form directly: data-only events, blank line
// separated, ending with [DONE], the usage chunk last before it.
func TestSSEFraming(t *testing.T) {
	e, err := NewEntryFromJSON([]byte(textJSON))
	if err != nil {
		t.Fatal(err)
	}
	events := strings.Split(strings.TrimSuffix(string(e.SSEUsage), "\n\n"), "\n\n")
	if events[len(events)-1] != "data: [DONE]" {
		t.Errorf("last event %q", events[len(events)-1])
	}
	if u := events[len(events)-2]; !strings.Contains(u, `"choices":[],"usage":{`) {
		t.Errorf("usage event %q", u)
	}
	for _, ev := range events[:len(events)-1] {
		payload, ok := strings.CutPrefix(ev, "data: ")
		if !ok || !json.Valid([]byte(payload)) {
			t.Errorf("bad event %q", ev)
		}
	}
	if strings.Contains(string(e.SSE), `"usage"`) {
		t.Error("SSE without usage carries usage")
	}
	if e.Age(e.Stored.Add(2500*time.Millisecond)) != 2*time.Second {
		t.Error("Age does not round down to seconds")
	}
}

func FuzzAssembler(f *testing.F) {
	for _, p := range append(textStream, toolStream...) {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var a Assembler
		if a.Add([]byte(textStream[1])) != nil || a.Add(payload) != nil || a.Add([]byte("[DONE]")) != nil {
			return
		}
		e, err := a.Entry()
		if err != nil {
			return
		}
		if !json.Valid(e.JSON) {
			t.Fatalf("assembled invalid JSON: %s", e.JSON)
		}
		for _, ev := range strings.Split(strings.TrimSuffix(string(e.SSEUsage), "\n\n"), "\n\n") {
			if p, _ := strings.CutPrefix(ev, "data: "); p != "[DONE]" && !json.Valid([]byte(p)) {
				t.Fatalf("invalid SSE event %q", ev)
			}
		}
	})
}

// TestPrettyPrintedUpstream guards SSE framing: a pretty-printed JSON answer
// must still render one line per event.
func TestPrettyPrintedUpstream(t *testing.T) {
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(toolJSON), "", "  "); err != nil {
		t.Fatal(err)
	}
	e, err := NewEntryFromJSON(pretty.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range strings.Split(strings.TrimSuffix(string(e.SSEUsage), "\n\n"), "\n\n") {
		if strings.Contains(ev, "\n") {
			t.Fatalf("multi-line event %q", ev)
		}
	}
	c := serve(t, &e)
	s := stream(t, c, true)
	if s.acc.Usage.TotalTokens != 42 || len(s.acc.Choices[0].Message.ToolCalls) != 2 {
		t.Errorf("got %+v", s.acc.ChatCompletion)
	}
}

func TestEntryCost(t *testing.T) {
	e, err := NewEntryFromJSON([]byte(twoChoicesJSON)) // no usage: SSEUsage is SSE
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(e.JSON)+len(e.SSE)) + entryOverhead; e.Cost() != want {
		t.Errorf("cost %d, want %d (SSE counted once)", e.Cost(), want)
	}
	e, _ = NewEntryFromJSON([]byte(textJSON))
	if want := int64(len(e.JSON)+len(e.SSE)+len(e.SSEUsage)) + entryOverhead; e.Cost() != want {
		t.Errorf("cost %d, want %d", e.Cost(), want)
	}
}
