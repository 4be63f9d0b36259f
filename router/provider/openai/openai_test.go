package openai

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

func TestPrepare(t *testing.T) {
	a, err := New(config.Upstream{BaseURL: "http://127.0.0.1:9/", Auth: config.Auth{APIKey: "sk-1"}})
	if err != nil {
		t.Fatal(err)
	}
	var req fasthttp.Request
	if err := a.Prepare(&req, &provider.Call{Endpoint: provider.Embeddings, Body: []byte(`{"model":"m"}`)}); err != nil {
		t.Fatal(err)
	}
	if req.URI().String() != "http://127.0.0.1:9/v1/embeddings" || string(req.Header.Peek("Authorization")) != "Bearer sk-1" ||
		string(req.Body()) != `{"model":"m"}` || !req.Header.IsPost() {
		t.Fatalf("%s", req.String())
	}
	def, _ := New(config.Upstream{Auth: config.Auth{APIKey: "k"}})
	def.Prepare(&req, &provider.Call{Endpoint: provider.ChatCompletions})
	if req.URI().String() != "https://api.openai.com/v1/chat/completions" {
		t.Fatal(req.URI().String())
	}
	if _, err := New(config.Upstream{}); err != ErrNoKey {
		t.Fatal(err)
	}
}

func TestResponsesNative(t *testing.T) {
	a, err := New(config.Upstream{Auth: config.Auth{APIKey: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ResponsesMode("gpt-5") != provider.ResponsesNative || !a.Supports(provider.Responses) {
		t.Fatal("OpenAI serves Responses natively")
	}
	if m := provider.WithResponsesMode(a, provider.ResponsesTranslated); m.ResponsesMode("gpt-5") != provider.ResponsesTranslated || m.Provider() != "openai" {
		t.Fatal("override")
	}
}
