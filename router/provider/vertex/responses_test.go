package vertex

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// OpenAI partner models are served natively at endpoints/openapi/responses; other models are
// translated.
func TestMockResponsesNative(t *testing.T) {
	s, cred := startVertex(t, time.Hour)
	a := mockAdapter(t, s, cred)
	if a.ResponsesMode("openai/gpt-oss-120b-maas") != provider.ResponsesNative || a.ResponsesMode("google/gemini-2.5-flash") != provider.ResponsesTranslated {
		t.Fatal("modes")
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c := &provider.Call{Endpoint: provider.Responses, Model: "openai/gpt-oss-120b-maas", Body: []byte(`{"model":"openai/gpt-oss-120b-maas","input":"Hello"}`)}
	if err := a.Prepare(req, c); err != nil {
		t.Fatal(err)
	}
	if err := mockClient.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"object":"response"`) {
		t.Fatalf("%d %s", resp.StatusCode(), resp.Body())
	}
	if p := s.LastRequest().Path; p != "/v1/projects/proj/locations/us-central1/endpoints/openapi/responses" {
		t.Fatalf("path %s", p)
	}
}
