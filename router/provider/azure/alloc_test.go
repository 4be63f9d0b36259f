//go:build !race

package azure

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Building the upstream request allocates nothing, in both URL forms.
func TestPrepareAllocs(t *testing.T) {
	for _, api := range []string{"deployments", "v1"} {
		a, _ := New(config.Upstream{BaseURL: "http://127.0.0.1:9", API: api, Auth: config.Auth{APIKey: "k"}, Models: map[string]string{"gpt-4o": "gpt4o-prod"}})
		var req fasthttp.Request
		call := &provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt4o-prod", Body: make([]byte, 2048)}
		if n := testing.AllocsPerRun(500, func() { req.Reset(); a.Prepare(&req, call) }); n != 0 {
			t.Fatalf("%s: %.1f allocs", api, n)
		}
	}
}

// A native Responses attempt allocates nothing, also when store:false is rewritten.
func TestPrepareResponsesAllocs(t *testing.T) {
	a, _ := New(config.Upstream{BaseURL: "http://127.0.0.1:9", API: "v1", Auth: config.Auth{APIKey: "k"}})
	var req fasthttp.Request
	for _, body := range []string{`{"model":"d","input":"hi","store":false}`, `{"model":"d","input":"hi"}`} {
		call := &provider.Call{Endpoint: provider.Responses, Model: "d", Body: []byte(body), Stream: true}
		if n := testing.AllocsPerRun(500, func() { req.Reset(); a.Prepare(&req, call) }); n != 0 {
			t.Fatalf("%s: %.1f allocs", body, n)
		}
	}
}
