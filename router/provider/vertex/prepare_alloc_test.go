//go:build !race

package vertex

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// TestPrepareZeroAlloc: Prepare reads the token from an atomic pointer and
// writes into a reused request without allocating.
func TestPrepareZeroAlloc(t *testing.T) {
	ts := newTokenServer(t, 3600)
	a := newAdapter(t, ts, "")
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	c := &provider.Call{Endpoint: provider.ChatCompletions, Model: "google/gemini-2.5-flash",
		Body: []byte(`{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`)}
	if n := testing.AllocsPerRun(200, func() {
		if err := a.Prepare(req, c); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocs per Prepare", n)
	}
}

// TestPrepareResponsesZeroAlloc: a native Responses attempt allocates nothing either.
func TestPrepareResponsesZeroAlloc(t *testing.T) {
	ts := newTokenServer(t, 3600)
	a := newAdapter(t, ts, "")
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	c := &provider.Call{Endpoint: provider.Responses, Model: "openai/gpt-oss-120b-maas", Stream: true,
		Body: []byte(`{"model":"openai/gpt-oss-120b-maas","input":"hi","stream":true}`)}
	if n := testing.AllocsPerRun(200, func() {
		if err := a.Prepare(req, c); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocs per Prepare", n)
	}
	if u := req.URI().String(); !strings.HasSuffix(u, "/endpoints/openapi/responses") {
		t.Fatalf("url %s", u)
	}
}
