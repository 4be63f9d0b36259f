// Package openai is the adapter for OpenAI's own API: Bearer auth, the body
// passed through unchanged, answers already in OpenAI's shape.
package openai

import (
	"errors"
	"io"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	sse "github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// ErrNoKey is returned by New when the upstream has no API key.
var ErrNoKey = errors.New("openai: auth.api_key is required")

// Adapter speaks OpenAI's API. It is immutable after New and safe for
// concurrent use.
type Adapter struct {
	urls   [5]string // per endpoint, precomputed so Prepare allocates nothing
	bearer string    // "Bearer <key>"
}

// New builds the adapter for one configured upstream.
func New(u config.Upstream) (*Adapter, error) {
	if u.Auth.APIKey == "" {
		return nil, ErrNoKey
	}
	base := strings.TrimRight(u.BaseURL, "/")
	if base == "" {
		base = "https://api.openai.com"
	}
	a := &Adapter{bearer: "Bearer " + u.Auth.APIKey}
	for ep := provider.ChatCompletions; ep <= provider.Responses; ep++ {
		a.urls[ep] = base + "/v1/" + ep.Suffix()
	}
	return a, nil
}

// Provider implements provider.Adapter.
func (a *Adapter) Provider() string { return "openai" }

// Supports implements provider.Adapter: OpenAI serves every endpoint.
func (a *Adapter) Supports(ep provider.Endpoint) bool {
	return ep >= provider.ChatCompletions && ep <= provider.Responses
}

// ResponsesMode implements provider.Adapter: OpenAI serves /v1/responses for every model.
func (a *Adapter) ResponsesMode(string) provider.ResponsesMode { return provider.ResponsesNative }

// Prepare implements provider.Adapter.
func (a *Adapter) Prepare(req *fasthttp.Request, c *provider.Call) error {
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(a.urls[c.Endpoint])
	req.Header.SetContentType("application/json")
	req.Header.Set(fasthttp.HeaderAuthorization, a.bearer)
	if c.Stream {
		req.Header.Set(fasthttp.HeaderAccept, "text/event-stream")
	}
	req.SetBody(c.Body)
	return nil
}

// DecodeJSON implements provider.Adapter: the body is already OpenAI's.
func (a *Adapter) DecodeJSON(_ []byte, _ *provider.Call, body []byte) ([]byte, error) {
	return body, nil
}

// Events implements provider.Adapter.
func (a *Adapter) Events(c *provider.Call, body io.Reader) provider.EventReader {
	return sse.AcquireSSEReader(body, c.Endpoint != provider.Responses)
}

// Error implements provider.Adapter.
func (a *Adapter) Error(status int, h *fasthttp.ResponseHeader, body []byte) *provider.Error {
	return provider.OpenAIError(status, h, body)
}

// Ready implements provider.Adapter: a static key is always usable.
func (a *Adapter) Ready() error { return nil }

// Close implements provider.Adapter.
func (a *Adapter) Close() error { return nil }
