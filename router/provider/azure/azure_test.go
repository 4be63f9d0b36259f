package azure

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

func TestPrepareURLsAndAuth(t *testing.T) {
	tests := []struct {
		name       string
		u          config.Upstream
		ep         provider.Endpoint
		wantURL    string
		authHeader string
		authValue  string
	}{
		{"classic chat", config.Upstream{BaseURL: "https://acme.openai.azure.com/", Auth: config.Auth{APIKey: "k"}, Models: map[string]string{"gpt-4o": "gpt4o prod"}},
			provider.ChatCompletions, "https://acme.openai.azure.com/openai/deployments/gpt4o%20prod/chat/completions?api-version=2024-10-21", "Api-Key", "k"},
		{"classic embeddings, version", config.Upstream{BaseURL: "https://acme.openai.azure.com", APIVersion: "2025-04-01-preview", Auth: config.Auth{APIKey: "k"}, Models: map[string]string{"e": "emb"}},
			provider.Embeddings, "https://acme.openai.azure.com/openai/deployments/emb/embeddings?api-version=2025-04-01-preview", "Api-Key", "k"},
		{"v1 with Entra token", config.Upstream{BaseURL: "https://acme.openai.azure.com", API: "v1", Auth: config.Auth{BearerToken: "tok"}, Models: map[string]string{"gpt-4o": "gpt4o"}},
			provider.Responses, "https://acme.openai.azure.com/openai/v1/responses", "Authorization", "Bearer tok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.u)
			if err != nil {
				t.Fatal(err)
			}
			var req fasthttp.Request
			var dep string
			for _, d := range tt.u.Models {
				dep = d
			}
			if err := a.Prepare(&req, &provider.Call{Endpoint: tt.ep, Model: dep, Body: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			if got := req.URI().String(); got != tt.wantURL {
				t.Fatalf("url %s", got)
			}
			if got := string(req.Header.Peek(tt.authHeader)); got != tt.authValue {
				t.Fatalf("%s = %q", tt.authHeader, got)
			}
		})
	}
	if _, err := New(config.Upstream{BaseURL: "https://x"}); err != ErrNoAuth {
		t.Fatalf("no auth: %v", err)
	}
}

// The leading filter-only chunk (empty id, no choices) is dropped; the usage
// chunk (also no choices) and annotated content chunks pass.
func TestFilterChunks(t *testing.T) {
	a, _ := New(config.Upstream{BaseURL: "https://x", Auth: config.Auth{APIKey: "k"}})
	in := `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}

data: {"choices":[{"content_filter_results":{},"delta":{"content":"Hi"},"finish_reason":null,"index":0}],"created":1,"id":"chatcmpl-1","model":"gpt-4o","object":"chat.completion.chunk"}

data: {"choices":[],"created":1,"id":"chatcmpl-1","model":"gpt-4o","object":"chat.completion.chunk","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}

data: [DONE]

`
	r := a.Events(&provider.Call{Endpoint: provider.ChatCompletions}, strings.NewReader(in))
	var ev provider.Event
	var got []string
	for r.Next(&ev) == nil {
		got = append(got, string(ev.Data))
	}
	if len(got) != 2 || !strings.Contains(got[0], `"Hi"`) || !strings.Contains(got[1], `"usage"`) {
		t.Fatalf("got %q", got)
	}
}

// A Responses body with store:false goes to Azure with store:true (Azure refuses false); the
// mock, which refuses store:false as Azure does, answers 200.
func TestResponsesStoreTrue(t *testing.T) {
	s, err := mockcloud.Start(mockcloud.Options{Provider: mockcloud.Azure, APIKey: "az"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := New(config.Upstream{BaseURL: s.URL(), API: "v1", Auth: config.Auth{APIKey: "az"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ResponsesMode("dep") != provider.ResponsesNative {
		t.Fatal("mode")
	}
	var req fasthttp.Request
	var resp fasthttp.Response
	body := []byte(`{"model":"dep","input":"hi","store":false,"include":["reasoning.encrypted_content"]}`)
	if err := a.Prepare(&req, &provider.Call{Endpoint: provider.Responses, Model: "dep", Body: body}); err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"model":"dep","input":"hi","store":false,"include":["reasoning.encrypted_content"]}` {
		t.Fatal("Prepare modified the caller's body")
	}
	if err := fasthttp.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 200 || !strings.Contains(string(s.LastRequest().Body), `"store":true`) {
		t.Fatalf("%d %s", resp.StatusCode(), resp.Body())
	}
}

// An upstream on the classic URL form still sends Responses to the v1 surface.
func TestClassicResponsesURL(t *testing.T) {
	a, err := New(config.Upstream{BaseURL: "https://acme.openai.azure.com", Auth: config.Auth{APIKey: "k"}, Models: map[string]string{"gpt-4o": "gpt4o"}})
	if err != nil {
		t.Fatal(err)
	}
	var req fasthttp.Request
	if err := a.Prepare(&req, &provider.Call{Endpoint: provider.Responses, Model: "gpt4o", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if u := req.URI().String(); u != "https://acme.openai.azure.com/openai/v1/responses" {
		t.Fatalf("url %s", u)
	}
}
