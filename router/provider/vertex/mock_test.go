package vertex

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Integration tests against internal/mockcloud's Vertex imitation: its token
// endpoint verifies the RS256 JWT assertion that x/oauth2 signs with the
// service-account key, and its chat endpoint accepts only tokens it minted.

var mockClient = &fasthttp.Client{ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}

func saJSON(tokenURI string) []byte {
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "proj", "private_key_id": "kid1",
		"private_key": string(testKey), "client_email": "router@proj.iam.gserviceaccount.com",
		"client_id": "1", "token_uri": tokenURI,
	})
	return b
}

func startVertex(t *testing.T, ttl time.Duration) (*mockcloud.Server, string) {
	t.Helper()
	s, err := mockcloud.Start(mockcloud.Options{Provider: mockcloud.Vertex, ServiceAccountJSON: saJSON("placeholder"), TokenTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(p, saJSON(s.TokenURL()), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, p
}

func mockAdapter(t *testing.T, s *mockcloud.Server, credFile string) *Adapter {
	t.Helper()
	a, err := New(context.Background(), config.Upstream{Name: "vertex-mock", Provider: "vertex", BaseURL: s.URL(),
		Region: "us-central1", Project: "proj", Auth: config.Auth{CredentialsFile: credFile}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

const chatBody = `{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"Hello"}]}`

func call(t *testing.T, a *Adapter, stream bool) (int, []byte, *fasthttp.ResponseHeader) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	body := chatBody
	if stream {
		body = `{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"Hello"}],"stream":true,"stream_options":{"include_usage":true}}`
	}
	if err := a.Prepare(req, &provider.Call{Endpoint: provider.ChatCompletions, Model: "google/gemini-2.5-flash", Body: []byte(body), Stream: stream}); err != nil {
		t.Fatal(err)
	}
	if err := mockClient.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	var h fasthttp.ResponseHeader
	resp.Header.CopyTo(&h)
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), &h
}

func TestMockChat(t *testing.T) {
	s, cred := startVertex(t, time.Hour)
	a := mockAdapter(t, s, cred)
	st, body, _ := call(t, a, false)
	if st != 200 || !strings.Contains(string(body), `"chat.completion"`) || !strings.Contains(string(body), "Hello") {
		t.Fatalf("%d %s", st, body)
	}
	if p := s.LastRequest().Path; p != "/v1/projects/proj/locations/us-central1/endpoints/openapi/chat/completions" {
		t.Fatalf("path %s", p)
	}
	st, body, _ = call(t, a, true)
	if st != 200 {
		t.Fatalf("stream %d %s", st, body)
	}
	r := a.Events(nil, strings.NewReader(string(body)))
	var ev provider.Event
	var text strings.Builder
	n := 0
	for {
		err := r.Next(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Choices []struct{ Delta struct{ Content string } } `json:"choices"`
		}
		json.Unmarshal(ev.Data, &c)
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
		}
		n++
	}
	if n < 2 || !strings.Contains(text.String(), "Hello") {
		t.Fatalf("%d events, text %q", n, text.String())
	}
}

// TestMockShortTokenRefresh: with 2 s tokens the refresher renews them in
// the background and no request fails during the loop.
func TestMockShortTokenRefresh(t *testing.T) {
	s, cred := startVertex(t, 2*time.Second)
	a := mockAdapter(t, s, cred)
	seen := map[string]bool{}
	deadline := time.Now().Add(20 * time.Second)
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	for n := 0; len(seen) < 3 || a.refreshes.Load() < 2; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d requests: %d tokens seen, %d refreshes", n, len(seen), a.refreshes.Load())
		}
		st, body, _ := call(t, a, false)
		if st != 200 {
			t.Fatalf("request %d failed during refresh: %d %s", n, st, body)
		}
		if err := a.Ready(); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		a.Prepare(req, &provider.Call{Endpoint: provider.ChatCompletions})
		seen[string(req.Header.Peek("Authorization"))] = true
	}
}

// TestMockBrokenTokenEndpoint: once the token endpoint is gone, Ready says so.
func TestMockBrokenTokenEndpoint(t *testing.T) {
	s, cred := startVertex(t, 2*time.Second)
	a := mockAdapter(t, s, cred)
	if err := a.Ready(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	waitFor(t, "Ready to report the failed refresh", func() bool {
		err := a.Ready()
		return err != nil && strings.Contains(err.Error(), "refresh failed")
	})
}

func TestMockErrors(t *testing.T) {
	s, cred := startVertex(t, time.Hour)
	a := mockAdapter(t, s, cred)
	s.Inject(mockcloud.Fault{Status: 429, Code: "RESOURCE_EXHAUSTED", RetryAfter: 3 * time.Second})
	st, body, h := call(t, a, false)
	e := a.Error(st, h, body)
	if st != 429 || !e.Retryable || e.RetryAfter != 3*time.Second || e.Type != "rate_limit_error" {
		t.Fatalf("%d %+v", st, *e)
	}
	s.Inject(mockcloud.Fault{Status: 403})
	st, body, h = call(t, a, false)
	if e := a.Error(st, h, body); st != 403 || e.Retryable {
		t.Fatalf("%d %+v", st, *e)
	}
}
