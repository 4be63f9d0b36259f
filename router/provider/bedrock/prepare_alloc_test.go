//go:build !race

package bedrock

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// TestPrepareBearerZeroAlloc: with a Bedrock API key, preparing an
// OpenAI-compatible attempt allocates nothing (SigV4 does; see BenchmarkPrepare).
func TestPrepareBearerZeroAlloc(t *testing.T) {
	a, err := New(config.Upstream{Region: "us-east-1", Auth: config.Auth{BearerToken: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	c := &provider.Call{Endpoint: provider.ChatCompletions, Model: "openai.gpt-oss-20b-1:0", Body: benchBody, Stream: true}
	if n := testing.AllocsPerRun(200, func() {
		if err := a.Prepare(req, c); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocs per Prepare", n)
	}
}

// TestPrepareMantleBearerZeroAlloc: a native Responses attempt with an API key allocates nothing.
func TestPrepareMantleBearerZeroAlloc(t *testing.T) {
	a, err := New(config.Upstream{Region: "us-east-1", Auth: config.Auth{BearerToken: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	c := &provider.Call{Endpoint: provider.Responses, Model: "openai.gpt-oss-120b", Body: benchBody, Stream: true}
	if n := testing.AllocsPerRun(200, func() {
		if err := a.Prepare(req, c); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocs per Prepare", n)
	}
}
