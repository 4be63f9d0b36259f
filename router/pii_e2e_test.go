package router_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/plugins/piitest"
	"github.com/switchyard-dev/switchyard/router/config"
)

// PII never leaves the PoP (issue 13): with the demo's redaction plugin
// (examples/plugins/rust/redact-pii) every labelled value of the corpus —
// sampled across every entity kind — is redacted before the cloud sees the
// request, in chat and Responses bodies, JSON and streamed, and the client
// gets every original back.
func TestPIINeverReachesTheCloud(t *testing.T) {
	dir := filepath.Join("..", "plugins", "testdata", "pii")
	samples, err := piitest.ReadCorpus(filepath.Join(dir, "handwritten.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	gen, err := piitest.ReadCorpus(filepath.Join(dir, "generated.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(gen); i += 12 { // 200 generated samples: every kind, many formats
		samples = append(samples, gen[i])
	}
	terms, err := piitest.ReadTerms(filepath.Join(dir, "terms.txt"))
	if err != nil {
		t.Fatal(err)
	}
	wasm, _ := filepath.Abs("../examples/plugins/rust/redact-pii/plugin.wasm")
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test"})
	base := startRouterWithPlugins(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Plugins:   []config.Plugin{{Name: "pii", Kind: "redact", Wasm: wasm, OnError: "closed", Config: piitest.ScorerConfig(terms)}},
		Cache:     config.Cache{Policy: "off"},
	})
	c := client(base)
	seen := func(t *testing.T, s piitest.Sample) {
		t.Helper()
		sent := string(m.LastRequest().Body)
		for _, e := range s.Entities {
			if strings.Contains(sent, e.Value) {
				t.Fatalf("%s: the cloud saw the %s %q", s.ID, e.Kind, e.Value)
			}
		}
	}
	for i, s := range samples {
		ctx := context.Background()
		switch i % 4 {
		case 0: // chat, JSON
			res, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(s.Text)}})
			if err != nil {
				t.Fatalf("%s: %v", s.ID, err)
			}
			seen(t, s)
			if got := res.Choices[0].Message.Content; got != "You said: "+s.Text {
				t.Fatalf("%s: the client got %q", s.ID, got)
			}
		case 1: // chat, streamed
			st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(s.Text)}})
			var b strings.Builder
			for st.Next() {
				for _, ch := range st.Current().Choices {
					b.WriteString(ch.Delta.Content)
				}
			}
			if err := st.Err(); err != nil {
				t.Fatalf("%s: %v", s.ID, err)
			}
			seen(t, s)
			if b.String() != "You said: "+s.Text {
				t.Fatalf("%s: the client got %q", s.ID, b.String())
			}
		default: // Responses, JSON and streamed
			stream := i%4 == 3
			body := strings.Replace(string(piitest.Body("responses-input", s.Text, false)), `"gpt-5.5"`, `"gpt-4o-mini"`, 1)
			if stream {
				body = strings.Replace(body, `{`, `{"stream":true,`, 1)
			}
			status, _, resp := postPath(t, base, "/v1/responses", body)
			if status != 200 {
				t.Fatalf("%s: %d %s", s.ID, status, resp)
			}
			seen(t, s)
			for _, e := range s.Entities {
				if !strings.Contains(resp, jsonEscape(e.Value)) {
					t.Fatalf("%s: the client did not get the %s %q back: %s", s.ID, e.Kind, e.Value, resp)
				}
			}
		}
	}
}

// jsonEscape is v as it appears inside a JSON string written by the router.
func jsonEscape(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return r.Replace(v)
}
