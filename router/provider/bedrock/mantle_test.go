package bedrock

import (
	"io"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

const mantleBody = `{"model":"openai.gpt-oss-120b","input":"mantle","stream":true}`

// Native Responses go to Mantle's /openai/v1/responses, signed for bedrock-mantle (the mock
// refuses any other scope) or with the API key, and stream named events without [DONE].
func TestMantleResponses(t *testing.T) {
	s := startBedrock(t, mantleMockOptions())
	for _, auth := range []config.Auth{sigv4Auth, {BearerToken: "br-key"}} {
		a := mockAdapter(t, s, "", auth)
		if a.ResponsesMode(mockModel) != provider.ResponsesNative || !a.Supports(provider.Responses) {
			t.Fatalf("mode %v", a.ResponsesMode(mockModel))
		}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		c := &provider.Call{Endpoint: provider.Responses, Model: "openai.gpt-oss-120b", Body: []byte(mantleBody), Stream: true}
		if err := a.Prepare(req, c); err != nil {
			t.Fatal(err)
		}
		if err := mockClient.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 200 {
			b, _ := io.ReadAll(resp.BodyStream())
			t.Fatalf("%d %s", resp.StatusCode(), b)
		}
		er := a.Events(c, resp.BodyStream())
		var ev provider.Event
		var names []string
		var err error
		for err = er.Next(&ev); err == nil; err = er.Next(&ev) {
			names = append(names, string(ev.Name))
		}
		if err != io.EOF || len(names) == 0 || names[0] != "response.created" || names[len(names)-1] != "response.completed" {
			t.Fatalf("events %v end %v", names, err)
		}
		if p := s.LastRequest().Path; p != "/openai/v1/responses" {
			t.Fatalf("path %s", p)
		}
		if auth.BearerToken == "" && !strings.Contains(s.LastRequest().Header.Get("Authorization"), "/us-east-1/bedrock-mantle/aws4_request") {
			t.Fatalf("scope %s", s.LastRequest().Header.Get("Authorization"))
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
}

// Without a base_url, Mantle is bedrock-mantle.{region}.api.aws where the region has it, and
// Responses are translated elsewhere and on Converse upstreams.
func TestMantleEndpoint(t *testing.T) {
	a, err := New(config.Upstream{Region: "eu-west-1", Auth: config.Auth{BearerToken: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	if err := a.Prepare(req, &provider.Call{Endpoint: provider.Responses, Model: "m", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if u := req.URI().String(); u != "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses" {
		t.Fatalf("url %s", u)
	}
	for _, u := range []config.Upstream{
		{Region: "us-west-1", Auth: config.Auth{BearerToken: "k"}},
		{Region: "us-east-1", API: "converse", Auth: config.Auth{BearerToken: "k"}},
	} {
		a, err := New(u)
		if err != nil {
			t.Fatal(err)
		}
		if a.ResponsesMode("m") != provider.ResponsesTranslated || a.Supports(provider.Responses) {
			t.Errorf("%+v: mode %v", u, a.ResponsesMode("m"))
		}
	}
}

func mantleMockOptions() mockcloud.Options {
	return mockcloud.Options{APIKey: "br-key", AccessKeyID: mockAKID, SecretAccessKey: mockSecret}
}
