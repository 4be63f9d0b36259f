package router_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

func bedrockUpstream(t testing.TB, name, api string, secret string) (config.Upstream, *mockcloud.Server) {
	m := startMock(t, mockcloud.Options{Provider: "bedrock", AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"})
	return config.Upstream{Name: name, Provider: "bedrock", BaseURL: m.URL(), Region: "us-east-1", API: api,
		Auth:   config.Auth{AccessKeyID: "AKIDTEST", SecretAccessKey: secret},
		Models: map[string]string{"gpt-4o-mini": "openai.gpt-oss-20b-1:0"}}, m
}

func vertexUpstream(t testing.TB, name string) (config.Upstream, *mockcloud.Server) {
	sa, err := os.ReadFile("../examples/configs/mock-service-account.json")
	if err != nil {
		t.Fatal(err)
	}
	m := startMock(t, mockcloud.Options{Provider: "vertex", ServiceAccountJSON: sa})
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, m.ServiceAccountJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Upstream{Name: name, Provider: "vertex", BaseURL: m.URL(), Project: "p", Region: "us-central1",
		Auth: config.Auth{CredentialsFile: path}, Models: map[string]string{"gpt-4o-mini": "openai/gpt-oss-120b-maas"}}, m
}

// openai-go completes a chat and consumes a stream through Bedrock (both
// APIs) and Vertex, and the response names the cloud.
func TestOpenAIGoThroughBedrockAndVertex(t *testing.T) {
	for _, kind := range []string{"bedrock-openai", "bedrock-converse", "vertex"} {
		t.Run(kind, func(t *testing.T) {
			var u config.Upstream
			var m *mockcloud.Server
			switch kind {
			case "bedrock-openai":
				u, m = bedrockUpstream(t, "up", "openai", "test-secret")
			case "bedrock-converse":
				u, m = bedrockUpstream(t, "up", "converse", "test-secret")
			case "vertex":
				u, m = vertexUpstream(t, "up")
			}
			base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
			c := client(base)
			var raw *http.Response
			res, err := c.Chat.Completions.New(context.Background(), hello, option.WithResponseInto(&raw))
			if err != nil {
				t.Fatal(err)
			}
			provider := strings.SplitN(kind, "-", 2)[0]
			if res.Choices[0].Message.Content != "You said: Hello edge" || res.Usage.TotalTokens == 0 ||
				raw.Header.Get("x-switchyard-provider") != provider || res.Choices[0].FinishReason != "stop" {
				t.Fatalf("%+v %v", res, raw.Header)
			}
			text, _ := consume(t, c, hello)
			if text != "You said: Hello edge" {
				t.Fatalf("stream %q", text)
			}
			p := hello
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			if _, usage := consume(t, c, p); usage == 0 {
				t.Fatal("no usage chunk")
			}
			if kind == "bedrock-converse" && !strings.Contains(m.LastRequest().Path, "/model/openai.gpt-oss-20b-1%3A0/converse-stream") {
				t.Fatalf("path %s", m.LastRequest().Path)
			}
		})
	}
}

// Tool calls survive the Converse translation both ways, JSON and streamed.
func TestConverseToolCalls(t *testing.T) {
	u, _ := bedrockUpstream(t, "up", "converse", "test-secret")
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
	c := client(base)
	p := openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name: "get_weather", Parameters: openai.FunctionParameters{"type": "object",
				"properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}}})},
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
	}
	res, err := c.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices[0].Message.ToolCalls) != 1 || res.Choices[0].Message.ToolCalls[0].Function.Name != "get_weather" ||
		res.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("%+v", res.Choices[0])
	}
	s := c.Chat.Completions.NewStreaming(context.Background(), p)
	acc := openai.ChatCompletionAccumulator{}
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if s.Err() != nil || len(acc.Choices) == 0 || len(acc.Choices[0].Message.ToolCalls) != 1 ||
		acc.Choices[0].Message.ToolCalls[0].Function.Arguments != res.Choices[0].Message.ToolCalls[0].Function.Arguments {
		t.Fatalf("stream: %v %+v", s.Err(), acc.Choices)
	}
}

// A throttled Bedrock falls back to Vertex; a bad signature is final.
func TestBedrockFailures(t *testing.T) {
	b, bm := bedrockUpstream(t, "bedrock", "converse", "test-secret")
	v, vm := vertexUpstream(t, "vertex")
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{b, v}})
	bm.Inject(mockcloud.Fault{Code: "ThrottlingException"})
	c := client(base)
	var raw *http.Response
	if _, err := c.Chat.Completions.New(context.Background(), hello, option.WithResponseInto(&raw)); err != nil ||
		raw.Header.Get("x-switchyard-provider") != "vertex" || vm.Calls() != 1 {
		t.Fatalf("throttled bedrock did not fall back: %v", err)
	}

	bad, _ := bedrockUpstream(t, "bedrock", "converse", "wrong-secret")
	base, _ = startRouter(t, &config.Config{Upstreams: []config.Upstream{bad}})
	c = client(base)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Chat.Completions.New(ctx, hello)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.Message == "" {
		t.Fatalf("bad signature: %v", err)
	}
}

// A request Converse cannot express (an image by URL) moves to a candidate
// that can; with none, the client gets a 400 naming the problem.
func TestUnexpressibleRequest(t *testing.T) {
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}`
	post := func(base string) (int, string, []byte) {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("x-switchyard-provider"), b
	}
	conv, _ := bedrockUpstream(t, "converse", "converse", "test-secret")
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{conv}})
	status, _, b := post(base)
	checkErrorBody(t, status, b, 400, "")

	oa := openaiUpstream("openai", openaiMock(t))
	base, _ = startRouter(t, &config.Config{Upstreams: []config.Upstream{conv, oa}})
	if status, provider, b := post(base); status != 200 || provider != "openai" {
		t.Fatalf("no fallback: %d %s %s", status, provider, b)
	}
}
