package mockcloud

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// The mocks are the upstream of the load benchmarks, so their own cost per request is measured
// here (client and server in one process, over loopback).

func benchServer(b *testing.B, o Options) (*Server, *fasthttp.HostClient) {
	b.Helper()
	s, err := Start(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s, &fasthttp.HostClient{Addr: s.Addr(), MaxConns: 512}
}

func benchPost(b *testing.B, c *fasthttp.HostClient, url, auth, body string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			req.SetRequestURI(url)
			req.Header.SetMethod("POST")
			req.Header.Set("Authorization", auth)
			req.Header.SetContentType("application/json")
			req.SetBodyString(body)
			if err := c.Do(req, resp); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
}

const benchChat = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Tell me about the weather in Paris today please"}]}`

func BenchmarkOpenAIChatJSON(b *testing.B) {
	s, c := benchServer(b, Options{Provider: OpenAI, APIKey: "k"})
	benchPost(b, c, s.URL()+"/v1/chat/completions", "Bearer k", benchChat)
}

func BenchmarkOpenAIChatSSE(b *testing.B) {
	s, c := benchServer(b, Options{Provider: OpenAI, APIKey: "k"})
	benchPost(b, c, s.URL()+"/v1/chat/completions", "Bearer k", strings.Replace(benchChat, `"messages"`, `"stream":true,"messages"`, 1))
}

func BenchmarkBedrockConverseStream(b *testing.B) {
	s, c := benchServer(b, Options{Provider: Bedrock, APIKey: "k"})
	benchPost(b, c, s.URL()+"/model/openai.gpt-oss-20b-1%3A0/converse-stream", "Bearer k",
		`{"messages":[{"role":"user","content":[{"text":"Tell me about the weather in Paris today please"}]}]}`)
}

// Example shows a test pointing a plain HTTP client at the OpenAI mock.
func Example() {
	s, err := Start(Options{Provider: OpenAI, APIKey: "sk-test", Reply: strings.ToUpper})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	req, _ := http.NewRequest("POST", s.URL()+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`))
	req.Header.Set("Authorization", "Bearer sk-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"content":"HELLO"`), s.Calls())
	// Output: 200 true 1
}
