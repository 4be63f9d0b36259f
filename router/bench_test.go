package router_test

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
)

var benchBody = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello from the benchmark"}],"temperature":0.7}`)
var benchStreamBody = []byte(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello from the benchmark"}],"temperature":0.7}`)

// BenchmarkProxy measures one request through the router to a loopback mock,
// against the same request sent to the mock directly in the same run
// ("direct"): the difference is the proxy hop's cost.
//
//	go test -run '^$' -bench BenchmarkProxy -benchmem ./router/
func BenchmarkProxy(b *testing.B) {
	m := openaiMock(b)
	base, _ := startRouter(b, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	for _, bc := range []struct {
		name, url string
		body      []byte
		auth      bool
	}{
		{"direct/json", m.URL() + "/v1/chat/completions", benchBody, true},
		{"switchyard/json", base + "/v1/chat/completions", benchBody, false},
		{"direct/stream", m.URL() + "/v1/chat/completions", benchStreamBody, true},
		{"switchyard/stream", base + "/v1/chat/completions", benchStreamBody, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &fasthttp.Client{}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.Header.SetMethod("POST")
			req.SetRequestURI(bc.url)
			req.Header.SetContentType("application/json")
			if bc.auth {
				req.Header.Set("Authorization", "Bearer sk-test")
			}
			req.SetBody(bc.body)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
				}
			}
		})
	}
}
