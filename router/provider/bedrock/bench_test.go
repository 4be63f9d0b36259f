package bedrock

import (
	"bytes"
	"os"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

var benchBody = []byte(`{"model":"openai.gpt-oss-20b-1:0","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hi"}],"temperature":0.2,"max_completion_tokens":64,"stream":true,"stream_options":{"include_usage":true}}`)

// BenchmarkPrepare measures one attempt's preparation; the SigV4 cases count
// the allocations of signing through net/http types (docs/RATIONALE.md).
func BenchmarkPrepare(b *testing.B) {
	for _, bc := range []struct {
		name string
		u    config.Upstream
	}{
		{"openai-bearer", config.Upstream{Region: "us-east-1", Auth: config.Auth{BearerToken: "k"}}},
		{"openai-sigv4", config.Upstream{Region: "us-east-1", Auth: config.Auth{AccessKeyID: vecAKID, SecretAccessKey: vecSecret}}},
		{"converse-sigv4", config.Upstream{Region: "us-east-1", API: "converse", Auth: config.Auth{AccessKeyID: vecAKID, SecretAccessKey: vecSecret}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := New(bc.u)
			if err != nil {
				b.Fatal(err)
			}
			req := fasthttp.AcquireRequest()
			defer fasthttp.ReleaseRequest(req)
			c := &provider.Call{Endpoint: provider.ChatCompletions, Model: "openai.gpt-oss-20b-1:0", Body: benchBody, Stream: true}
			b.ReportAllocs()
			for b.Loop() {
				if err := a.Prepare(req, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkConverseResponse(b *testing.B) {
	body, err := os.ReadFile("testdata/response/tool.converse.json")
	if err != nil {
		b.Fatal(err)
	}
	a, _ := New(config.Upstream{Region: "us-east-1", API: "converse", Auth: config.Auth{BearerToken: "k"}})
	c := &provider.Call{Model: "openai.gpt-oss-20b-1:0"}
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = a.DecodeJSON(dst[:0], c, body)
	}
}

func BenchmarkConverseStream(b *testing.B) {
	body := frames(b, "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata")
	var ev provider.Event
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := newStreamReader(bytes.NewReader(body), "m", 1)
		for r.Next(&ev) == nil {
		}
	}
}
