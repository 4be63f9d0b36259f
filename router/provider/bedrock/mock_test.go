package bedrock

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Integration tests against internal/mockcloud's Bedrock imitation: the
// adapter's Prepare'd request goes out through a plain fasthttp.Client (no
// aws-sdk-go-v2 client involved) and the mock checks SigV4 from the wire.

const (
	mockAKID   = "AKIDMOCK"
	mockSecret = "mock-secret-key"
	mockModel  = "openai.gpt-oss-20b-1:0"
)

// mockClient is how the router must build its Bedrock client: no path
// normalising, so %3A reaches the cloud as signed.
var mockClient = &fasthttp.Client{DisablePathNormalizing: true, ReadTimeout: 10 * time.Second,
	WriteTimeout: 10 * time.Second, StreamResponseBody: true}

func startBedrock(t *testing.T, o mockcloud.Options) *mockcloud.Server {
	t.Helper()
	o.Provider = mockcloud.Bedrock
	s, err := mockcloud.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mockAdapter(t *testing.T, s *mockcloud.Server, api string, auth config.Auth) *Adapter {
	t.Helper()
	a, err := New(config.Upstream{Name: "bedrock-mock", Provider: "bedrock", BaseURL: s.URL(), Region: "us-east-1",
		API: api, Auth: auth, Models: map[string]string{"gpt-oss-20b": mockModel}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var sigv4Auth = config.Auth{AccessKeyID: mockAKID, SecretAccessKey: mockSecret}

// exchange prepares and sends one attempt; it returns the status, headers and
// (for non-streams) the body, or for streams the events read through Events.
type result struct {
	status int
	header *fasthttp.ResponseHeader
	body   []byte
	events []string
	end    error
}

func exchange(t *testing.T, a *Adapter, stream bool, body string) result {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c := &provider.Call{Endpoint: provider.ChatCompletions, Model: mockModel, Body: []byte(body), Stream: stream}
	if err := a.Prepare(req, c); err != nil {
		t.Fatal(err)
	}
	if err := mockClient.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	r := result{header: new(fasthttp.ResponseHeader)}
	r.status = resp.StatusCode()
	resp.Header.CopyTo(r.header)
	if r.status != 200 || !stream {
		b, err := io.ReadAll(resp.BodyStream())
		if err != nil {
			t.Fatal(err)
		}
		if r.status == 200 {
			b, err = a.DecodeJSON(nil, c, b)
			if err != nil {
				t.Fatal(err)
			}
		}
		r.body = append([]byte(nil), b...)
		return r
	}
	er := a.Events(c, resp.BodyStream())
	var ev provider.Event
	for {
		if err := er.Next(&ev); err != nil {
			r.end = err
			break
		}
		r.events = append(r.events, string(ev.Data))
	}
	resp.CloseBodyStream()
	return r
}

const userHello = `{"model":"openai.gpt-oss-20b-1:0","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],"max_tokens":64}`
const userHelloStream = `{"model":"openai.gpt-oss-20b-1:0","messages":[{"role":"user","content":"Hello"}],"stream":true,"stream_options":{"include_usage":true}}`

type completion struct {
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

// assembled joins a streamed answer's content and checks the chunk order.
func assembled(t *testing.T, events []string) (text, finish string, usage bool) {
	t.Helper()
	for i, e := range events {
		var c completion
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("event %d not JSON: %s", i, e)
		}
		if c.Object != "chat.completion.chunk" {
			t.Fatalf("event %d object %q", i, c.Object)
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text += *ch.Delta.Content
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
		if c.Usage != nil && c.Usage.TotalTokens > 0 {
			if len(c.Choices) != 0 || i != len(events)-1 {
				t.Fatalf("usage chunk must be last with no choices: %s", e)
			}
			usage = true
		}
	}
	return
}

func TestMockConverse(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{AccessKeyID: mockAKID, SecretAccessKey: mockSecret, Models: []string{mockModel}})
	a := mockAdapter(t, s, "converse", sigv4Auth)
	r := exchange(t, a, false, userHello)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if p := s.LastRequest().Path; p != "/model/openai.gpt-oss-20b-1%3A0/converse" {
		t.Fatalf("path on the wire %s", p)
	}
	var c completion
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if c.Object != "chat.completion" || c.Model != "gpt-oss-20b" || len(c.Choices) != 1 || c.Choices[0].Message.Content == nil ||
		!strings.Contains(*c.Choices[0].Message.Content, "Hello") || *c.Choices[0].FinishReason != "stop" || c.Usage == nil || c.Usage.TotalTokens == 0 {
		t.Fatalf("completion %s", r.body)
	}
}

func TestMockConverseStream(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{AccessKeyID: mockAKID, SecretAccessKey: mockSecret})
	a := mockAdapter(t, s, "converse", sigv4Auth)
	r := exchange(t, a, true, userHelloStream)
	if r.status != 200 || r.end != io.EOF {
		t.Fatalf("status %d end %v: %s", r.status, r.end, r.body)
	}
	if p := s.LastRequest().Path; p != "/model/openai.gpt-oss-20b-1%3A0/converse-stream" {
		t.Fatalf("path on the wire %s", p)
	}
	text, finish, usage := assembled(t, r.events)
	if !strings.Contains(text, "Hello") || finish != "stop" || !usage {
		t.Fatalf("text %q finish %q usage %v", text, finish, usage)
	}
}

func TestMockOpenAIMode(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{AccessKeyID: mockAKID, SecretAccessKey: mockSecret})
	a := mockAdapter(t, s, "openai", sigv4Auth)
	r := exchange(t, a, false, userHello)
	var c completion
	if r.status != 200 || json.Unmarshal(r.body, &c) != nil || c.Object != "chat.completion" || !strings.Contains(*c.Choices[0].Message.Content, "Hello") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if p := s.LastRequest().Path; p != "/openai/v1/chat/completions" {
		t.Fatalf("path %s", p)
	}
	r = exchange(t, a, true, userHelloStream)
	text, finish, usage := assembled(t, r.events)
	if r.status != 200 || r.end != io.EOF || !strings.Contains(text, "Hello") || finish != "stop" || !usage {
		t.Fatalf("stream: status %d end %v text %q finish %q usage %v", r.status, r.end, text, finish, usage)
	}
}

func TestMockBearerKey(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{APIKey: "bedrock-api-key"})
	for _, api := range []string{"openai", "converse"} {
		a := mockAdapter(t, s, api, config.Auth{BearerToken: "bedrock-api-key"})
		if r := exchange(t, a, false, userHello); r.status != 200 {
			t.Fatalf("%s: status %d: %s", api, r.status, r.body)
		}
	}
}

func TestMockSessionToken(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{AccessKeyID: mockAKID, SecretAccessKey: mockSecret})
	a := mockAdapter(t, s, "converse", config.Auth{AccessKeyID: mockAKID, SecretAccessKey: mockSecret, SessionToken: "sess"})
	if r := exchange(t, a, false, userHello); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got := s.LastRequest().Header.Get("X-Amz-Security-Token"); got != "sess" {
		t.Fatalf("session token %q", got)
	}
}

// TestMockWrongSecret: a bad signature is a 403 that no retry can fix.
func TestMockWrongSecret(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{AccessKeyID: mockAKID, SecretAccessKey: mockSecret})
	for _, api := range []string{"converse", "openai"} {
		a := mockAdapter(t, s, api, config.Auth{AccessKeyID: mockAKID, SecretAccessKey: "wrong"})
		r := exchange(t, a, false, userHello)
		if r.status != 403 {
			t.Fatalf("%s: status %d", api, r.status)
		}
		e := a.Error(r.status, r.header, r.body)
		if e.Retryable || e.Status != 403 || e.Type != "authentication_error" {
			t.Fatalf("%s: %+v", api, *e)
		}
	}
}

func TestMockFaults(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{AccessKeyID: mockAKID, SecretAccessKey: mockSecret})
	a := mockAdapter(t, s, "converse", sigv4Auth)
	cases := []struct {
		fault  mockcloud.Fault
		status int
		code   string
		retry  bool
	}{
		{mockcloud.Fault{Status: 429, Code: "ThrottlingException"}, 429, "ThrottlingException", true},
		{mockcloud.Fault{Code: "ServiceUnavailableException"}, 503, "ServiceUnavailableException", true},
		{mockcloud.Fault{Code: "ValidationException"}, 400, "ValidationException", false},
		{mockcloud.Fault{Status: 500}, 500, "", true},
	}
	for _, tc := range cases {
		s.Inject(tc.fault)
		r := exchange(t, a, false, userHello)
		if r.status != tc.status {
			t.Fatalf("%+v: status %d", tc.fault, r.status)
		}
		e := a.Error(r.status, r.header, r.body)
		if e.Retryable != tc.retry || (tc.code != "" && e.Code != tc.code) {
			t.Fatalf("%+v: %+v", tc.fault, *e)
		}
	}
}

// TestMockStreamException: an exception frame after some content ends the
// stream with a *provider.Error carrying the cloud's status.
func TestMockStreamException(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{AccessKeyID: mockAKID, SecretAccessKey: mockSecret})
	a := mockAdapter(t, s, "converse", sigv4Auth)
	s.Inject(mockcloud.Fault{Status: 429, Code: "ThrottlingException", ResetAfterChunks: 2})
	r := exchange(t, a, true, userHelloStream)
	var pe *provider.Error
	if r.status != 200 || !errors.As(r.end, &pe) || pe.Status != 429 || !pe.Retryable {
		t.Fatalf("status %d, %d events, end %v", r.status, len(r.events), r.end)
	}
	if len(r.events) == 0 {
		t.Fatal("no chunk before the exception")
	}
}

// TestMockConverseToolCall: a forced tool call comes back as OpenAI
// tool_calls, whole in JSON and as index/id/name then argument fragments in
// a stream; both assemble to the same JSON arguments.
func TestMockConverseToolCall(t *testing.T) {
	s := startBedrock(t, mockcloud.Options{AccessKeyID: mockAKID, SecretAccessKey: mockSecret})
	a := mockAdapter(t, s, "converse", sigv4Auth)
	const tools = `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":"required"`
	r := exchange(t, a, false, `{"messages":[{"role":"user","content":"Weather in Paris?"}],`+tools+`}`)
	var c struct {
		Choices []struct {
			Message struct {
				ToolCalls []struct {
					ID       string `json:"id"`
					Type     string `json:"type"`
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &c) != nil || len(c.Choices) != 1 || len(c.Choices[0].Message.ToolCalls) != 1 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	tc := c.Choices[0].Message.ToolCalls[0]
	if tc.ID == "" || tc.Type != "function" || tc.Function.Name != "get_weather" || !json.Valid([]byte(tc.Function.Arguments)) ||
		c.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("tool call %+v in %s", tc, r.body)
	}

	r = exchange(t, a, true, `{"messages":[{"role":"user","content":"Weather in Paris?"}],"stream":true,`+tools+`}`)
	if r.status != 200 || r.end != io.EOF {
		t.Fatalf("stream status %d end %v", r.status, r.end)
	}
	var args, name, id, finish string
	for _, e := range r.events {
		var ch struct {
			Choices []struct {
				Delta struct {
					ToolCalls []struct {
						Index    *int   `json:"index"`
						ID       string `json:"id"`
						Function struct{ Name, Arguments string }
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(e), &ch); err != nil {
			t.Fatal(err)
		}
		for _, x := range ch.Choices {
			for _, tc := range x.Delta.ToolCalls {
				if tc.Index == nil || *tc.Index != 0 {
					t.Fatalf("tool call fragment without index 0: %s", e)
				}
				id += tc.ID
				name += tc.Function.Name
				args += tc.Function.Arguments
			}
			if x.FinishReason != nil {
				finish = *x.FinishReason
			}
		}
	}
	if id == "" || name != "get_weather" || args != tc.Function.Arguments || finish != "tool_calls" {
		t.Fatalf("streamed id %q name %q args %q (whole: %q) finish %q", id, name, args, tc.Function.Arguments, finish)
	}
}
