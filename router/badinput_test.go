package router_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

// errorBody is OpenAI's error envelope; all four keys must be present.
type errorBody struct {
	Error map[string]any `json:"error"`
}

func checkErrorBody(t *testing.T, status int, body []byte, wantStatus int, wantParam string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d (body %s)", status, wantStatus, body)
	}
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil {
		t.Fatalf("not an OpenAI error body: %s", body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := e.Error[k]; !ok {
			t.Fatalf("error body lacks %q: %s", k, body)
		}
	}
	if msg, _ := e.Error["message"].(string); msg == "" {
		t.Fatalf("empty message: %s", body)
	}
	if wantParam != "" && e.Error["param"] != wantParam {
		t.Fatalf("param %v, want %s", e.Error["param"], wantParam)
	}
}

func TestBadInput(t *testing.T) {
	m := openaiMock(t)
	cfg := &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Limits: config.Limits{MaxBodyBytes: 64 << 10}}
	base, _ := startRouter(t, cfg)
	valid := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		param                           string
	}{
		{"malformed json", "POST", "/v1/chat/completions", "application/json", `{"model":"gpt-4o-mini",`, 400, ""},
		{"not an object", "POST", "/v1/chat/completions", "application/json", `[1,2]`, 400, ""},
		{"empty body", "POST", "/v1/chat/completions", "application/json", ``, 400, ""},
		{"missing model", "POST", "/v1/chat/completions", "application/json", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"missing messages", "POST", "/v1/chat/completions", "application/json", `{"model":"gpt-4o-mini"}`, 400, "messages"},
		{"empty messages", "POST", "/v1/chat/completions", "application/json", `{"model":"gpt-4o-mini","messages":[]}`, 400, "messages"},
		{"model not a string", "POST", "/v1/chat/completions", "application/json", `{"model":5,"messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"stream not a bool", "POST", "/v1/chat/completions", "application/json", `{"model":"gpt-4o-mini","stream":"yes","messages":[{"role":"user","content":"hi"}]}`, 400, "stream"},
		{"temperature not a number", "POST", "/v1/chat/completions", "application/json", `{"model":"gpt-4o-mini","temperature":"hot","messages":[{"role":"user","content":"hi"}]}`, 400, "temperature"},
		{"n out of range", "POST", "/v1/chat/completions", "application/json", `{"model":"gpt-4o-mini","n":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "n"},
		{"unknown model", "POST", "/v1/chat/completions", "application/json", `{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}`, 404, "model"},
		{"wrong content type", "POST", "/v1/chat/completions", "text/plain", valid, 415, ""},
		{"form content type", "POST", "/v1/chat/completions", "application/x-www-form-urlencoded", valid, 415, ""},
		{"wrong method", "GET", "/v1/chat/completions", "", "", 405, ""},
		{"unknown path", "POST", "/v1/nothing", "application/json", valid, 404, ""},
		{"oversized body", "POST", "/v1/chat/completions", "application/json",
			`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("a", 70<<10) + `"}]}`, 413, ""},
		{"embeddings without input", "POST", "/v1/embeddings", "application/json", `{"model":"text-embedding-3-small"}`, 400, "input"},
		{"models wrong method", "POST", "/v1/models", "application/json", `{}`, 405, ""},
		{"unknown model object", "GET", "/v1/models/gpt-9", "", "", 404, "model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			checkErrorBody(t, resp.StatusCode, body, tt.status, tt.param)
		})
	}
	if m.Calls() != 0 {
		t.Fatalf("bad input reached the upstream %d times", m.Calls())
	}
	// After all of them the server keeps serving.
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(valid))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("server stopped serving: %v %v", err, resp)
	}
	resp.Body.Close()
}

// A client that sends its body too slowly is cut off at the read timeout with
// a 408 in OpenAI's shape, and the server keeps serving others.
func TestSlowBodyIsCutOff(t *testing.T) {
	m := openaiMock(t)
	cfg := &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Limits: config.Limits{ReadTimeout: 300 * time.Millisecond}}
	base, _ := startRouter(t, cfg)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":")
	conn.SetDeadline(time.Now().Add(5 * time.Second)) // bounds the test, not the server
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("connection dropped without an answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	checkErrorBody(t, resp.StatusCode, body, 408, "")
	if resp.Header.Get("x-request-id") == "" { // regression (issue 11)
		t.Fatal("the 408 carries no x-request-id")
	}

	resp2, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil || resp2.StatusCode != 200 {
		t.Fatalf("server stopped serving: %v", err)
	}
	resp2.Body.Close()
}

// A request whose headers exceed limits.max_header_bytes gets 431 in OpenAI's shape.
func TestHeadersTooLarge(t *testing.T) {
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", openaiMock(t))},
		Limits: config.Limits{MaxHeaderBytes: 4 << 10}})
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Big", strings.Repeat("h", 8<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkErrorBody(t, resp.StatusCode, b, 431, "")
	if resp.Header.Get("x-request-id") == "" { // regression (issue 11)
		t.Fatal("the 431 carries no x-request-id")
	}
}

// Regression (issue 11): a 413 from the server's own limits carries an
// x-request-id like every other answer.
func TestBodyTooLargeHasRequestID(t *testing.T) {
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", openaiMock(t))},
		Limits: config.Limits{MaxBodyBytes: 1 << 10}})
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(strings.Repeat("x", 4<<10)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkErrorBody(t, resp.StatusCode, b, 413, "")
	if resp.Header.Get("x-request-id") == "" {
		t.Fatal("the 413 carries no x-request-id")
	}
}

// Regression (issue 11): a stream that lasts longer than limits.write_timeout
// is not cut (the bound is per write, not per response), so openai-go reads it
// to the end; a short JSON answer is unaffected.
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 150 * time.Millisecond})
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Limits: config.Limits{WriteTimeout: 500 * time.Millisecond}})
	c := client(base)
	text := strings.Repeat("word ", 14) // 16 events × 150 ms ≈ 2.4 s, well past the write timeout
	st := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}})
	var got strings.Builder
	for st.Next() {
		for _, ch := range st.Current().Choices {
			got.WriteString(ch.Delta.Content)
		}
	}
	if err := st.Err(); err != nil || got.String() != "You said: "+text {
		t.Fatalf("stream cut: %v after %q", err, got.String())
	}
}

// Client keys identify tenants; a wrong key gets 401 in OpenAI's shape.
func TestClientKeys(t *testing.T) {
	m := openaiMock(t)
	cfg := &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Tenants: []config.Tenant{{Name: "acme", Keys: []string{"acme-key"}}}}
	base, _ := startRouter(t, cfg)
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	for key, want := range map[string]int{"": 401, "wrong": 401, "acme-key": 200} {
		req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want == 200 {
			if resp.StatusCode != 200 {
				t.Fatalf("valid key: %d %s", resp.StatusCode, b)
			}
			continue
		}
		checkErrorBody(t, resp.StatusCode, b, want, "")
	}
}
