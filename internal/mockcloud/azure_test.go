package mockcloud

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const azureKey = "0123456789abcdef0123456789abcdef"

// azureClassic is openai-go pointed at a deployment-scoped base URL with api-version and api-key,
// which is what the azure option package does (without pulling in azcore).
func azureClassic(s *Server, dep string, opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{
		option.WithBaseURL(s.URL() + "/openai/deployments/" + dep + "/"),
		option.WithQuery("api-version", "2024-10-21"),
		option.WithHeader("api-key", azureKey),
		option.WithMaxRetries(0),
		option.WithHTTPClient(rawClient),
	}
	return openai.NewClient(append(base, opts...)...)
}

// azureV1 is the stock SDK on /openai/v1 with the key as a Bearer token.
func azureV1(s *Server, opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{
		option.WithBaseURL(s.URL() + "/openai/v1/"),
		option.WithAPIKey(azureKey),
		option.WithMaxRetries(0),
		option.WithHTTPClient(rawClient),
	}
	return openai.NewClient(append(base, opts...)...)
}

func TestAzureChatWithSDK(t *testing.T) {
	s := start(t, Options{Provider: Azure, APIKey: azureKey, Models: []string{"gpt4o-prod"}})
	ctx := testCtx(t)
	clients := []struct {
		name string
		c    openai.Client
	}{{"classic", azureClassic(s, "gpt4o-prod")}, {"v1", azureV1(s)}} // v1 last: LastRequest is checked below
	for _, tc := range clients {
		c := tc.c
		t.Run(tc.name, func(t *testing.T) {
			var hr *http.Response
			p := chatParams("hi azure")
			p.Model = "gpt4o-prod"
			res, err := c.Chat.Completions.New(ctx, p, option.WithResponseInto(&hr))
			if err != nil {
				t.Fatal(err)
			}
			if res.Choices[0].Message.Content != "You said: hi azure" || res.Model != "gpt4o-prod" {
				t.Errorf("content %q model %q", res.Choices[0].Message.Content, res.Model)
			}
			raw := res.RawJSON()
			for _, want := range []string{`"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{`, `"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}`} {
				if !strings.Contains(raw, want) {
					t.Errorf("body lacks %s", want)
				}
			}
			uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
			if !uuid.MatchString(hr.Header.Get("apim-request-id")) || hr.Header.Get("x-ms-region") == "" || hr.Header.Get("x-ratelimit-remaining-tokens") == "" {
				t.Errorf("headers %v", hr.Header)
			}
		})
	}
	last := s.LastRequest()
	if last.Path != "/openai/v1/chat/completions" || last.Header.Get("Authorization") != "Bearer "+azureKey {
		t.Errorf("last = %s %v", last.Path, last.Header)
	}
}

func TestAzureStream(t *testing.T) {
	s := start(t, Options{Provider: Azure, APIKey: azureKey})
	// Raw bytes first: the leading empty-id filter chunk of §2.3.
	resp, b := post(t, s.URL()+"/openai/deployments/dep1/chat/completions?api-version=2024-10-21",
		map[string]string{"api-key": azureKey}, `{"messages":[{"role":"user","content":"yo"}],"stream":true,"stream_options":{"include_usage":true}}`)
	data := sseData(b)
	if resp.StatusCode != 200 || len(data) < 5 {
		t.Fatalf("%d %q", resp.StatusCode, data)
	}
	if !strings.HasPrefix(data[0], `{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[`) {
		t.Errorf("first event %s", data[0])
	}
	if !strings.HasPrefix(data[1], `{"choices":[{"content_filter_results":{},"delta":{"role":"assistant"`) {
		t.Errorf("role event %s", data[1])
	}
	if !strings.Contains(data[2], `"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}`) {
		t.Errorf("content event %s", data[2])
	}
	if u := data[len(data)-2]; !strings.HasPrefix(u, `{"choices":[],"created":`) || !strings.Contains(u, `"usage":{"prompt_tokens":`) {
		t.Errorf("usage event %s", u)
	}
	if data[len(data)-1] != "[DONE]" {
		t.Errorf("last %s", data[len(data)-1])
	}

	// The SDK must cope with the filter chunk (no choices, empty id).
	c := azureClassic(s, "dep1")
	st := c.Chat.Completions.NewStreaming(testCtx(t), chatParams("round trip"))
	var text strings.Builder
	for st.Next() {
		if ch := st.Current().Choices; len(ch) > 0 {
			text.WriteString(ch[0].Delta.Content)
		}
	}
	if st.Err() != nil || text.String() != "You said: round trip" {
		t.Errorf("%q %v", text.String(), st.Err())
	}
}

func TestAzureEmbeddingsResponsesModels(t *testing.T) {
	s := start(t, Options{Provider: Azure, APIKey: azureKey, Models: []string{"emb", "chat"}})
	ctx := testCtx(t)
	c := azureClassic(s, "emb")
	e, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "ignored", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
	if err != nil || len(e.Data) != 1 || e.Model != "emb" {
		t.Fatalf("%v %+v", err, e)
	}
	v1 := azureV1(s)
	page, err := v1.Models.List(ctx)
	if err != nil || len(page.Data) != 2 {
		t.Errorf("models %v %+v", err, page)
	}
	_, b := post(t, s.URL()+"/openai/v1/responses", map[string]string{"api-key": azureKey}, `{"model":"chat","input":"x"}`)
	if !strings.Contains(string(b), `"object":"response"`) {
		t.Errorf("responses %s", b)
	}
}

func TestAzureErrors(t *testing.T) {
	s := start(t, Options{Provider: Azure, APIKey: azureKey, Models: []string{"dep1"}})
	body := `{"messages":[{"role":"user","content":"x"}]}`
	cases := []struct {
		name, path string
		hdr        map[string]string
		body       string
		status     int
		code       string
	}{
		{"missing api-version", "/openai/deployments/dep1/chat/completions", map[string]string{"api-key": azureKey}, body, 404, "404"},
		{"unknown deployment", "/openai/deployments/nope/chat/completions?api-version=2024-10-21", map[string]string{"api-key": azureKey}, body, 404, "DeploymentNotFound"},
		{"wrong key", "/openai/deployments/dep1/chat/completions?api-version=2024-10-21", map[string]string{"api-key": "bad"}, body, 401, "401"},
		{"no key", "/openai/v1/chat/completions", nil, `{"model":"dep1","messages":[]}`, 401, "401"},
		{"bearer on classic", "/openai/deployments/dep1/chat/completions?api-version=2024-10-21", map[string]string{"Authorization": "Bearer " + azureKey}, body, 200, ""},
		{"v1 unknown model", "/openai/v1/chat/completions", map[string]string{"api-key": azureKey}, `{"model":"zzz","messages":[{"role":"user","content":"x"}]}`, 404, "DeploymentNotFound"},
		{"bad json", "/openai/v1/chat/completions", map[string]string{"api-key": azureKey}, `{`, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := post(t, s.URL()+tc.path, tc.hdr, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if tc.code != "" {
				var env struct {
					Error struct{ Code, Message string }
				}
				mustUnmarshal(t, string(b), &env)
				if env.Error.Code != tc.code || env.Error.Message == "" {
					t.Errorf("body %s", b)
				}
			}
		})
	}
	_, b := post(t, s.URL()+"/openai/v1/chat/completions", map[string]string{"api-key": "nope"}, body)
	if !strings.Contains(string(b), "Access denied due to invalid subscription key") {
		t.Errorf("401 body %s", b)
	}
}

func TestAzureFaults(t *testing.T) {
	s := start(t, Options{Provider: Azure, APIKey: azureKey})
	url := s.URL() + "/openai/deployments/d/chat/completions?api-version=2024-10-21"
	hdr := map[string]string{"api-key": azureKey}
	body := `{"messages":[{"role":"user","content":"x"}]}`

	s.Inject(Fault{Status: 429, RetryAfter: 1500 * time.Millisecond})
	resp, b := post(t, url, hdr, body)
	if resp.StatusCode != 429 || resp.Header.Get("retry-after") != "2" || resp.Header.Get("retry-after-ms") != "1500" ||
		!strings.Contains(string(b), `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation`) {
		t.Errorf("429: %d %v %s", resp.StatusCode, resp.Header, b)
	}

	s.Inject(Fault{Code: "content_filter"})
	resp, b = post(t, url, hdr, body)
	var cf struct {
		Error struct {
			Code       string `json:"code"`
			Param      string `json:"param"`
			InnerError struct {
				Code   string                     `json:"code"`
				Result map[string]json.RawMessage `json:"content_filter_result"`
			} `json:"innererror"`
		} `json:"error"`
	}
	mustUnmarshal(t, string(b), &cf)
	if resp.StatusCode != 400 || cf.Error.Code != "content_filter" || cf.Error.InnerError.Code != "ResponsibleAIPolicyViolation" || len(cf.Error.InnerError.Result) != 5 {
		t.Errorf("content_filter: %d %s", resp.StatusCode, b)
	}

	// The SDK honours retry-after-ms: a short one retries quickly and succeeds.
	s.Inject(Fault{Status: 429, RetryAfter: 20 * time.Millisecond})
	before := s.Calls()
	c := azureClassic(s, "d", option.WithMaxRetries(1))
	res, err := c.Chat.Completions.New(testCtx(t), chatParams("after throttle"))
	if err != nil || res.Choices[0].Message.Content != "You said: after throttle" || s.Calls()-before != 2 {
		t.Errorf("retry: %v, attempts %d", err, s.Calls()-before)
	}

	s.Inject(Fault{Status: 503})
	if resp, _ := post(t, url, hdr, body); resp.StatusCode != 503 {
		t.Errorf("503: %d", resp.StatusCode)
	}

	s.Inject(Fault{ResetAfterChunks: 2})
	st := c.Chat.Completions.NewStreaming(testCtx(t), chatParams("a b c d"))
	n := 0
	for st.Next() {
		n++
	}
	// The filter chunk (no choices) and the role chunk arrive, then the connection is cut.
	if st.Err() == nil || n != 2 {
		t.Errorf("reset after chunks: %d events, err %v", n, st.Err())
	}
}
