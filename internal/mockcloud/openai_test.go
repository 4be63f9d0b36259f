package mockcloud

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

const testKey = "sk-test-0123456789abcdef"

func openaiClient(s *Server, opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{
		option.WithBaseURL(s.URL() + "/v1/"),
		option.WithAPIKey(testKey),
		option.WithMaxRetries(0),
		option.WithHTTPClient(rawClient),
	}
	return openai.NewClient(append(base, opts...)...)
}

func chatParams(prompt string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage(prompt)},
	}
}

func TestOpenAIChatWithSDK(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey, Models: []string{"gpt-4o-mini"}})
	c := openaiClient(s)
	var hr *http.Response
	res, err := c.Chat.Completions.New(testCtx(t), chatParams("hello there"), option.WithResponseInto(&hr))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Choices[0].Message.Content; got != "You said: hello there" {
		t.Errorf("content = %q", got)
	}
	if !regexp.MustCompile(`^chatcmpl-[A-Za-z0-9]{29}$`).MatchString(res.ID) {
		t.Errorf("id = %q", res.ID)
	}
	if res.Object != "chat.completion" || res.Model != "gpt-4o-mini" || res.Choices[0].FinishReason != "stop" {
		t.Errorf("object/model/finish = %q %q %q", res.Object, res.Model, res.Choices[0].FinishReason)
	}
	if res.Usage.PromptTokens <= 0 || res.Usage.CompletionTokens != 4 || res.Usage.TotalTokens != res.Usage.PromptTokens+4 {
		t.Errorf("usage = %+v", res.Usage)
	}
	if !regexp.MustCompile(`^req_[0-9a-f]{32}$`).MatchString(hr.Header.Get("x-request-id")) {
		t.Errorf("x-request-id = %q", hr.Header.Get("x-request-id"))
	}
	for _, h := range []string{"openai-processing-ms", "openai-version", "x-ratelimit-limit-requests", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests"} {
		if hr.Header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}
	if s.Calls() != 1 {
		t.Errorf("Calls = %d", s.Calls())
	}
	last := s.LastRequest()
	if last.Method != "POST" || last.Path != "/v1/chat/completions" || last.Header.Get("Authorization") != "Bearer "+testKey || !strings.Contains(string(last.Body), "hello there") {
		t.Errorf("LastRequest = %+v", last)
	}
}

func TestOpenAIChatStreamWithSDK(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey})
	c := openaiClient(s)
	p := chatParams("stream me please")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := c.Chat.Completions.NewStreaming(testCtx(t), p)
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for st.Next() {
		acc.AddChunk(st.Current())
		chunks++
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "You said: stream me please" {
		t.Errorf("content = %q", got)
	}
	// role chunk + 5 pieces ("You", " said:", " stream", " me", " please") + finish chunk + usage chunk
	if chunks != 8 {
		t.Errorf("chunks = %d, want 8", chunks)
	}
	if acc.Usage.CompletionTokens != 5 || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("usage %+v finish %q", acc.Usage, acc.Choices[0].FinishReason)
	}
}

// TestOpenAIStreamBytes guards the byte shape of §1.4: data-only events, usage:null on every
// chunk with include_usage, a usage chunk with empty choices just before [DONE].
func TestOpenAIStreamBytes(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey, Reply: func(string) string { return "Hi" }})
	for _, withUsage := range []bool{false, true} {
		body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"stream":true`
		if withUsage {
			body += `,"stream_options":{"include_usage":true}`
		}
		resp, b := post(t, s.URL()+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + testKey}, body+"}")
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("content-type %q", ct)
		}
		if strings.Contains(string(b), "event:") {
			t.Error("chat stream must not carry event names")
		}
		data := sseData(b)
		if data[len(data)-1] != "[DONE]" {
			t.Fatalf("last event %q", data[len(data)-1])
		}
		want := 4 // role, "Hi", finish, [DONE]
		if withUsage {
			want = 5
		}
		if len(data) != want {
			t.Fatalf("usage=%v: %d events: %q", withUsage, len(data), data)
		}
		var first, fin struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Choices []struct {
				Delta        map[string]any `json:"delta"`
				FinishReason *string        `json:"finish_reason"`
			} `json:"choices"`
			Usage json.RawMessage `json:"usage"`
		}
		mustUnmarshal(t, data[0], &first)
		mustUnmarshal(t, data[2], &fin)
		if first.Object != "chat.completion.chunk" || first.Choices[0].Delta["role"] != "assistant" || first.ID != fin.ID {
			t.Errorf("first chunk %s", data[0])
		}
		if fin.Choices[0].FinishReason == nil || *fin.Choices[0].FinishReason != "stop" || len(fin.Choices[0].Delta) != 0 {
			t.Errorf("finish chunk %s", data[2])
		}
		if withUsage {
			if string(first.Usage) != "null" {
				t.Errorf("usage on content chunk = %s", first.Usage)
			}
			if !strings.Contains(data[3], `"choices":[],"usage":{"prompt_tokens":`) {
				t.Errorf("usage chunk %s", data[3])
			}
		} else if first.Usage != nil {
			t.Errorf("usage present without include_usage: %s", data[0])
		}
	}
}

func mustUnmarshal(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("unmarshal %s: %v", s, err)
	}
}

func weatherTool() openai.ChatCompletionToolUnionParam {
	return openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name: "get_weather",
		Parameters: openai.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
			"required":   []string{"city"},
		},
	})
}

func TestOpenAIToolCalls(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey})
	c := openaiClient(s)
	choices := map[string]openai.ChatCompletionToolChoiceOptionUnionParam{
		"required": {OfAuto: openai.String("required")},
		"named":    openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}),
	}
	for name, tc := range choices {
		t.Run(name, func(t *testing.T) {
			p := chatParams("Paris")
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
			p.ToolChoice = tc
			res, err := c.Chat.Completions.New(testCtx(t), p)
			if err != nil {
				t.Fatal(err)
			}
			ch := res.Choices[0]
			if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.Content != "" {
				t.Fatalf("choice = %+v", ch)
			}
			call := ch.Message.ToolCalls[0]
			if call.Function.Name != "get_weather" || !strings.HasPrefix(call.ID, "call_") {
				t.Errorf("call = %+v", call)
			}
			var args map[string]any
			mustUnmarshal(t, call.Function.Arguments, &args)
			if args["city"] != "Paris" || args["days"] != float64(1) {
				t.Errorf("args = %v", args)
			}

			st := c.Chat.Completions.NewStreaming(testCtx(t), p)
			var acc openai.ChatCompletionAccumulator
			fragments := 0
			for st.Next() {
				acc.AddChunk(st.Current())
				if d := st.Current().Choices; len(d) > 0 && len(d[0].Delta.ToolCalls) > 0 {
					fragments++
				}
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
			got := acc.Choices[0].Message.ToolCalls
			if len(got) != 1 || got[0].Function.Arguments != call.Function.Arguments || acc.Choices[0].FinishReason != "tool_calls" {
				t.Errorf("streamed calls = %+v", got)
			}
			if fragments < 3 {
				t.Errorf("arguments arrived in %d fragments, want several", fragments)
			}
		})
	}
	// tool_choice auto: the mock answers with text.
	p := chatParams("Paris")
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool()}
	res, err := c.Chat.Completions.New(testCtx(t), p)
	if err != nil || res.Choices[0].Message.Content != "You said: Paris" {
		t.Errorf("auto: %v %+v", err, res)
	}
}

func TestOpenAIMaxTokens(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey})
	p := chatParams("one two three four")
	p.MaxCompletionTokens = openai.Int(2)
	c := openaiClient(s)
	res, err := c.Chat.Completions.New(testCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].FinishReason != "length" || res.Choices[0].Message.Content != "You said:" || res.Usage.CompletionTokens != 2 {
		t.Errorf("got %q %q %d", res.Choices[0].FinishReason, res.Choices[0].Message.Content, res.Usage.CompletionTokens)
	}
}

func TestOpenAICompletionsEmbeddingsModels(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey})
	c := openaiClient(s)
	ctx := testCtx(t)

	cmp, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "gpt-3.5-turbo-instruct", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("abc")}})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Object != "text_completion" || cmp.Choices[0].Text != "You said: abc" || !strings.HasPrefix(cmp.ID, "cmpl-") {
		t.Errorf("completion = %+v", cmp)
	}
	st := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{Model: "gpt-3.5-turbo-instruct", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("abc")}})
	var text strings.Builder
	for st.Next() {
		if ch := st.Current().Choices; len(ch) > 0 {
			text.WriteString(ch[0].Text)
		}
	}
	if st.Err() != nil || text.String() != "You said: abc" {
		t.Errorf("streamed completion %q, %v", text.String(), st.Err())
	}

	embed := func(format openai.EmbeddingNewParamsEncodingFormat, dims int64) *openai.CreateEmbeddingResponse {
		p := openai.EmbeddingNewParams{Model: "text-embedding-3-small", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha", "beta"}}, EncodingFormat: format}
		if dims > 0 {
			p.Dimensions = openai.Int(dims)
		}
		e, err := c.Embeddings.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	fl := embed(openai.EmbeddingNewParamsEncodingFormatFloat, 0)
	b64 := embed(openai.EmbeddingNewParamsEncodingFormatBase64, 0)
	if len(fl.Data) != 2 || len(fl.Data[0].Embedding) != 1536 || fl.Usage.PromptTokens == 0 {
		t.Fatalf("float embeddings: %d items", len(fl.Data))
	}
	for i := range fl.Data[0].Embedding {
		// The float form is the shortest decimal of a float32; base64 carries its exact bits.
		if float32(fl.Data[0].Embedding[i]) != float32(b64.Data[0].Embedding[i]) {
			t.Fatalf("float and base64 differ at %d", i)
		}
	}
	if fl.Data[0].Embedding[0] == fl.Data[1].Embedding[0] {
		t.Error("different texts gave the same vector")
	}
	if again := embed(openai.EmbeddingNewParamsEncodingFormatFloat, 0); again.Data[1].Embedding[7] != fl.Data[1].Embedding[7] {
		t.Error("embeddings are not deterministic")
	}
	if d := embed(openai.EmbeddingNewParamsEncodingFormatFloat, 256); len(d.Data[0].Embedding) != 256 {
		t.Errorf("dimensions = %d", len(d.Data[0].Embedding))
	}

	page, err := c.Models.List(ctx)
	if err != nil || len(page.Data) == 0 || page.Data[0].Object != "model" {
		t.Errorf("models: %v %+v", err, page)
	}
	if s.Calls() != 6 {
		t.Errorf("Calls = %d (models listing must not count)", s.Calls())
	}
}

func TestOpenAIResponses(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey})
	c := openaiClient(s)
	p := responses.ResponseNewParams{Model: "gpt-4o-mini", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hey you")}}
	r, err := c.Responses.New(testCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputText() != "You said: hey you" || r.Status != "completed" || !strings.HasPrefix(r.ID, "resp_") || r.Usage.OutputTokens != 4 {
		t.Errorf("response = %q %q %q %+v", r.OutputText(), r.Status, r.ID, r.Usage)
	}

	st := c.Responses.NewStreaming(testCtx(t), p)
	var text strings.Builder
	var types []string
	for st.Next() {
		ev := st.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.output_text.delta" {
			text.WriteString(ev.Delta)
		}
		if int(ev.SequenceNumber) != len(types)-1 {
			t.Errorf("event %s has sequence_number %d, want %d", ev.Type, ev.SequenceNumber, len(types)-1)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
		"response.output_text.delta", "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"}
	if strings.Join(types, ",") != strings.Join(want, ",") || text.String() != "You said: hey you" {
		t.Errorf("events %v text %q", types, text.String())
	}
	// Raw bytes: named events, data type equals event name, no [DONE].
	_, b := post(t, s.URL()+"/v1/responses", map[string]string{"Authorization": "Bearer " + testKey}, `{"model":"gpt-4o-mini","input":[{"role":"user","content":[{"type":"input_text","text":"x"}]}],"stream":true}`)
	if ev := sseEvents(b); len(ev) != 11 || strings.Contains(string(b), "[DONE]") {
		t.Errorf("raw responses stream: %v", ev)
	}
}

func apiError(t *testing.T, err error) *openai.Error {
	t.Helper()
	var e *openai.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *openai.Error", err)
	}
	return e
}

func TestOpenAIErrors(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey, Models: []string{"gpt-4o-mini"}})
	ctx := testCtx(t)
	cases := []struct {
		name   string
		client openai.Client
		params openai.ChatCompletionNewParams
		status int
		code   string
	}{
		{"wrong key", openaiClient(s, option.WithAPIKey("sk-wrong-key-123456")), chatParams("x"), 401, "invalid_api_key"},
		{"unknown model", openaiClient(s), openai.ChatCompletionNewParams{Model: "gpt-nope", Messages: chatParams("x").Messages}, 404, "model_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.Chat.Completions.New(ctx, tc.params)
			e := apiError(t, err)
			if e.StatusCode != tc.status || e.Code != tc.code || e.Type != "invalid_request_error" {
				t.Errorf("got %d %q %q", e.StatusCode, e.Code, e.Type)
			}
		})
	}
	raw := []struct {
		name, path, auth, body string
		status                 int
		want                   string
	}{
		{"no key", "/v1/chat/completions", "", `{}`, 401, `"You didn't provide an API key.`},
		{"bad json", "/v1/chat/completions", "Bearer " + testKey, `{"model":`, 400, `"We could not parse the JSON body`},
		{"no messages", "/v1/chat/completions", "Bearer " + testKey, `{"model":"gpt-4o-mini"}`, 400, `"param":"messages"`},
		{"bad path", "/v1/nothing", "Bearer " + testKey, `{}`, 404, `"Invalid URL (POST /v1/nothing)"`},
	}
	for _, tc := range raw {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := post(t, s.URL()+tc.path, map[string]string{"Authorization": tc.auth}, tc.body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Errorf("got %d %s", resp.StatusCode, b)
			}
			var env struct {
				Error map[string]any `json:"error"`
			}
			mustUnmarshal(t, string(b), &env)
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := env.Error[k]; !ok {
					t.Errorf("error body lacks %q: %s", k, b)
				}
			}
		})
	}
	// Counted: unknown model, bad json, no messages (auth was valid). Not: wrong key, no key, bad path.
	if s.Calls() != 3 {
		t.Errorf("Calls = %d, want 3", s.Calls())
	}
}

func TestOpenAIFaults(t *testing.T) {
	s := start(t, Options{Provider: OpenAI, APIKey: testKey})
	c := openaiClient(s)
	auth := map[string]string{"Authorization": "Bearer " + testKey}
	chat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a b c d e f"}]}`
	streamChat := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a b c d e f"}],"stream":true}`

	t.Run("429 retry-after", func(t *testing.T) {
		s.Inject(Fault{Status: 429, RetryAfter: 1500 * time.Millisecond})
		resp, b := post(t, s.URL()+"/v1/chat/completions", auth, chat)
		if resp.StatusCode != 429 || resp.Header.Get("retry-after") != "2" || !strings.Contains(string(b), `"code":"rate_limit_exceeded"`) {
			t.Errorf("%d %q %s", resp.StatusCode, resp.Header.Get("retry-after"), b)
		}
	})
	t.Run("insufficient_quota", func(t *testing.T) {
		s.Inject(Fault{Status: 429, Code: "insufficient_quota", RetryAfter: time.Second})
		_, err := c.Chat.Completions.New(testCtx(t), chatParams("x"))
		e := apiError(t, err)
		if e.StatusCode != 429 || e.Code != "insufficient_quota" || e.Type != "insufficient_quota" || e.Response.Header.Get("retry-after") != "" {
			t.Errorf("%d %q %q retry-after=%q", e.StatusCode, e.Code, e.Type, e.Response.Header.Get("retry-after"))
		}
	})
	t.Run("500 then success with SDK retry", func(t *testing.T) {
		before := s.Calls()
		s.Inject(Fault{Status: 500, Times: 2})
		cr := openaiClient(s, option.WithMaxRetries(2))
		// The SDK backs off 0.5s, 1s without retry headers; x-should-retry is not sent by the mock.
		res, err := cr.Chat.Completions.New(testCtx(t), chatParams("ok"))
		if err != nil || res.Choices[0].Message.Content != "You said: ok" {
			t.Fatalf("%v %+v", err, res)
		}
		if got := s.Calls() - before; got != 3 {
			t.Errorf("attempts = %d, want 3", got)
		}
	})
	t.Run("Times and ClearFaults", func(t *testing.T) {
		s.Inject(Fault{Status: 503, Times: 3})
		for i := range 2 {
			if resp, _ := post(t, s.URL()+"/v1/chat/completions", auth, chat); resp.StatusCode != 503 {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
		}
		s.ClearFaults()
		if resp, _ := post(t, s.URL()+"/v1/chat/completions", auth, chat); resp.StatusCode != 200 {
			t.Errorf("after ClearFaults: %d", resp.StatusCode)
		}
	})
	t.Run("latency and first byte delay", func(t *testing.T) {
		s.Inject(Fault{Latency: 60 * time.Millisecond, FirstByteDelay: 40 * time.Millisecond})
		t0 := time.Now()
		resp, _ := post(t, s.URL()+"/v1/chat/completions", auth, chat)
		if d := time.Since(t0); resp.StatusCode != 200 || d < 100*time.Millisecond {
			t.Errorf("status %d after %v, want 200 after >= 100ms", resp.StatusCode, d)
		}
	})
	t.Run("reset before response", func(t *testing.T) {
		s.Inject(Fault{ResetBeforeResponse: true})
		req, _ := http.NewRequest("POST", s.URL()+"/v1/chat/completions", strings.NewReader(chat))
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := rawClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got a response %d, want a dropped connection", resp.StatusCode)
		}
	})
	t.Run("reset after chunks", func(t *testing.T) {
		s.Inject(Fault{ResetAfterChunks: 3})
		st := c.Chat.Completions.NewStreaming(testCtx(t), chatParams("a b c d e f"))
		n := 0
		for st.Next() {
			n++
		}
		if st.Err() == nil || n != 3 {
			t.Errorf("got %d chunks, err %v; want 3 and an error", n, st.Err())
		}
	})
	t.Run("in-stream error", func(t *testing.T) {
		s.Inject(Fault{ResetAfterChunks: 2, Status: 500})
		resp, b := post(t, s.URL()+"/v1/chat/completions", auth, streamChat)
		data := sseData(b)
		if resp.StatusCode != 200 || len(data) != 3 || !strings.HasPrefix(data[2], `{"error":{"message":`) {
			t.Errorf("%d %q", resp.StatusCode, data)
		}
		s.Inject(Fault{ResetAfterChunks: 2, Status: 500})
		st := c.Chat.Completions.NewStreaming(testCtx(t), chatParams("a b c"))
		for st.Next() {
		}
		if st.Err() == nil {
			t.Error("SDK did not surface the in-stream error")
		}
	})
}

func TestStartValidation(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want error
	}{
		{"public address", Options{Provider: OpenAI, APIKey: "k", Addr: "0.0.0.0:0"}, ErrNotLoopback},
		{"unknown provider", Options{Provider: "ibm", APIKey: "k"}, ErrUnknownProvider},
		{"no key", Options{Provider: OpenAI}, ErrNoCredentials},
	}
	for _, tc := range cases {
		if _, err := Start(tc.o); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	s, err := Start(Options{Provider: OpenAI, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || s.TokenURL() != "" {
		t.Errorf("URL %q TokenURL %q", s.URL(), s.TokenURL())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestCloseAbortsDelays guards that Close does not wait out a long injected delay.
func TestCloseAbortsDelays(t *testing.T) {
	s, err := Start(Options{Provider: OpenAI, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	s.Inject(Fault{Latency: time.Hour})
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest("POST", s.URL()+"/v1/chat/completions", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+testKey)
		if resp, err := rawClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(testTimeout)
	for s.Calls() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling a condition with a bounded deadline
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("request still blocked after Close")
	}
}
