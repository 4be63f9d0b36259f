package router_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/switchyard-dev/switchyard/router/config"
)

// Embeddings, text completions, the Responses API (JSON and named-event
// streams, forwarded as-is) and the model list, through openai-go.
func TestOtherEndpoints(t *testing.T) {
	m := openaiMock(t)
	u := openaiUpstream("up", m)
	u.Models["gpt-4o-mini"] = "gpt-4o-mini"
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
	c := client(base)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}}})
	if err != nil || len(emb.Data) != 2 || len(emb.Data[0].Embedding) == 0 {
		t.Fatalf("embeddings: %v %+v", err, emb)
	}

	comp, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "gpt-4o-mini",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say this")}})
	if err != nil || len(comp.Choices) == 0 || comp.Choices[0].Text == "" {
		t.Fatalf("completions: %v %+v", err, comp)
	}

	resp, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-4o-mini",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello responses")}})
	if err != nil || !strings.Contains(resp.OutputText(), "Hello responses") {
		t.Fatalf("responses: %v %q", err, resp.OutputText())
	}
	st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt-4o-mini",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello stream")}})
	var deltas strings.Builder
	completed := false
	for st.Next() {
		ev := st.Current()
		switch ev.Type {
		case "response.output_text.delta":
			deltas.WriteString(ev.Delta)
		case "response.completed":
			completed = true
		}
	}
	if st.Err() != nil || !completed || !strings.Contains(deltas.String(), "Hello stream") {
		t.Fatalf("responses stream: %v completed=%v %q", st.Err(), completed, deltas.String())
	}

	models, err := c.Models.List(ctx)
	if err != nil || len(models.Data) != 2 || models.Data[0].ID != "gpt-4o-mini" {
		t.Fatalf("models: %v %+v", err, models)
	}
	model, err := c.Models.Get(ctx, "text-embedding-3-small")
	if err != nil || model.ID != "text-embedding-3-small" {
		t.Fatalf("model: %v", err)
	}
}

func TestHealthAndReady(t *testing.T) {
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", openaiMock(t))}})
	ids := map[string]bool{}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if path != "/metrics" && !json.Valid(b) {
			t.Fatalf("%s: %s", path, b)
		}
		id := resp.Header.Get("x-request-id")
		if !strings.HasPrefix(id, "sy-") || ids[id] {
			t.Fatalf("request id %q (seen: %v)", id, ids)
		}
		ids[id] = true
	}
}
