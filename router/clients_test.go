package router_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

func client(base string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
}

var hello = openai.ChatCompletionNewParams{
	Model:    "gpt-4o-mini",
	Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello edge")},
}

// The official openai-go client completes a chat and consumes a stream
// through each upstream kind: OpenAI, Azure classic and Azure v1.
func TestOpenAIGoClientThroughEachUpstream(t *testing.T) {
	for _, kind := range []string{"openai", "azure-deployments", "azure-v1"} {
		t.Run(kind, func(t *testing.T) {
			var u config.Upstream
			var m *mockcloud.Server
			switch kind {
			case "openai":
				m = openaiMock(t)
				u = openaiUpstream("up", m)
			case "azure-deployments":
				m = azureMock(t)
				u = azureUpstream("up", m, "deployments")
			case "azure-v1":
				m = azureMock(t)
				u = azureUpstream("up", m, "v1")
			}
			base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
			c := client(base)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			res, err := c.Chat.Completions.New(ctx, hello)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Choices[0].Message.Content; got != "You said: Hello edge" {
				t.Fatalf("content %q", got)
			}
			if res.Usage.TotalTokens == 0 {
				t.Fatal("no usage")
			}

			stream := c.Chat.Completions.NewStreaming(ctx, hello)
			var text strings.Builder
			var finish string
			chunks := 0
			for stream.Next() {
				ch := stream.Current()
				chunks++
				if ch.Usage.TotalTokens != 0 {
					t.Fatal("usage chunk leaked to a client that did not ask for it")
				}
				for _, choice := range ch.Choices {
					text.WriteString(choice.Delta.Content)
					if choice.FinishReason != "" {
						finish = choice.FinishReason
					}
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if text.String() != "You said: Hello edge" || finish != "stop" || chunks < 3 {
				t.Fatalf("stream text %q finish %q chunks %d", text.String(), finish, chunks)
			}
			// The router asked the cloud for usage even though the client did not.
			if body := string(m.LastRequest().Body); !strings.Contains(body, `"include_usage":true`) {
				t.Fatalf("upstream body lacks include_usage: %s", body)
			}

			// A client that asks for usage gets the usage chunk.
			p := hello
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			stream = c.Chat.Completions.NewStreaming(ctx, p)
			var usage int64
			for stream.Next() {
				if u := stream.Current().Usage.TotalTokens; u > 0 {
					usage = u
				}
			}
			if stream.Err() != nil || usage == 0 {
				t.Fatalf("usage %d err %v", usage, stream.Err())
			}
		})
	}
}
