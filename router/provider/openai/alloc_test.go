//go:build !race

package openai

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Building the upstream request allocates nothing.
func TestPrepareAllocs(t *testing.T) {
	a, _ := New(config.Upstream{BaseURL: "http://127.0.0.1:9", Auth: config.Auth{APIKey: "sk-1"}})
	var req fasthttp.Request
	call := &provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o-mini", Body: make([]byte, 2048), Stream: true}
	if n := testing.AllocsPerRun(500, func() { req.Reset(); a.Prepare(&req, call) }); n != 0 {
		t.Fatalf("%.1f allocs", n)
	}
}
