// Package azure is the adapter for Azure OpenAI, in both URL forms: the
// classic deployment-scoped one (/openai/deployments/{dep}/…?api-version=…)
// and the unversioned v1 one (/openai/v1/…, deployment name in "model").
package azure

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	sse "github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/responses"
)

// Errors returned by New.
var (
	ErrNoAuth    = errors.New("azure: auth.api_key or auth.bearer_token is required")
	ErrNoBaseURL = errors.New("azure: base_url is required")
)

// DefaultAPIVersion is the GA api-version used by the classic URL form.
const DefaultAPIVersion = "2024-10-21"

// Adapter speaks Azure OpenAI. Immutable after New; safe for concurrent use.
type Adapter struct {
	v1         bool
	urls       [5]string            // v1 form: per endpoint
	deployURLs map[string][5]string // classic form: per deployment, per endpoint
	authName   string               // "api-key" or "Authorization"
	authValue  string
}

// New builds the adapter for one configured upstream.
func New(u config.Upstream) (*Adapter, error) {
	base := strings.TrimRight(u.BaseURL, "/")
	if base == "" {
		return nil, ErrNoBaseURL
	}
	a := &Adapter{v1: u.API == "v1", deployURLs: map[string][5]string{}}
	switch {
	case u.Auth.APIKey != "":
		a.authName, a.authValue = "api-key", u.Auth.APIKey
	case u.Auth.BearerToken != "":
		a.authName, a.authValue = fasthttp.HeaderAuthorization, "Bearer "+u.Auth.BearerToken
	default:
		return nil, ErrNoAuth
	}
	version := u.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	q := "?api-version=" + url.QueryEscape(version)
	for ep := provider.ChatCompletions; ep <= provider.Responses; ep++ {
		a.urls[ep] = base + "/openai/v1/" + ep.Suffix()
	}
	for _, dep := range u.Models {
		var us [5]string
		for ep := provider.ChatCompletions; ep <= provider.Embeddings; ep++ {
			us[ep] = base + "/openai/deployments/" + url.PathEscape(dep) + "/" + ep.Suffix() + q
		}
		// The Responses API is not deployment-scoped, and the GA api-versions of the classic
		// form predate it: Responses always go to the v1 surface (model = deployment name, which
		// the router has put in the body), on every resource. docs/responses.md.
		us[provider.Responses] = base + "/openai/v1/responses"
		a.deployURLs[dep] = us
	}
	return a, nil
}

// Provider implements provider.Adapter.
func (a *Adapter) Provider() string { return "azure" }

// Supports implements provider.Adapter.
func (a *Adapter) Supports(ep provider.Endpoint) bool {
	return ep >= provider.ChatCompletions && ep <= provider.Responses
}

// ResponsesMode implements provider.Adapter: Azure serves Responses natively on the v1 surface
// (/openai/v1/responses, the deployment name in "model"), whichever URL form the upstream uses
// for its other endpoints.
func (a *Adapter) ResponsesMode(string) provider.ResponsesMode { return provider.ResponsesNative }

var storeBuf = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// Prepare implements provider.Adapter. A Responses body with "store": false is sent with
// "store": true: Azure refuses store:false, and Codex does the same for Azure (codex-rs
// core/src/client.rs; docs/responses.md "Azure and store").
func (a *Adapter) Prepare(req *fasthttp.Request, c *provider.Call) error {
	req.Header.SetMethod(fasthttp.MethodPost)
	if a.v1 {
		req.SetRequestURI(a.urls[c.Endpoint])
	} else {
		us, ok := a.deployURLs[c.Model]
		if !ok {
			return errors.New("azure: no deployment configured for " + c.Model)
		}
		req.SetRequestURI(us[c.Endpoint])
	}
	req.Header.SetContentType("application/json")
	req.Header.Set(a.authName, a.authValue)
	if c.Stream {
		req.Header.Set(fasthttp.HeaderAccept, "text/event-stream")
	}
	if c.Endpoint == provider.Responses {
		bp := storeBuf.Get().(*[]byte)
		if body, changed := responses.ForceStore((*bp)[:0], c.Body); changed {
			req.SetBody(body) // copies
			*bp = body
			storeBuf.Put(bp)
			return nil
		}
		storeBuf.Put(bp)
	}
	req.SetBody(c.Body)
	return nil
}

// DecodeJSON implements provider.Adapter: Azure's body is OpenAI's plus
// content-filter annotations, which clients ignore.
func (a *Adapter) DecodeJSON(_ []byte, _ *provider.Call, body []byte) ([]byte, error) {
	return body, nil
}

// Events implements provider.Adapter. Azure opens streams with a chunk that
// has an empty id and model, no choices and only prompt_filter_results; some
// OpenAI clients index choices[0] blindly, so such chunks are dropped. Chunks
// with choices (and the usage chunk) pass through with their annotations.
func (a *Adapter) Events(c *provider.Call, body io.Reader) provider.EventReader {
	r := sse.AcquireSSEReader(body, c.Endpoint != provider.Responses)
	if c.Endpoint == provider.Responses {
		return r
	}
	return filterReader{r}
}

type filterReader struct{ r *sse.SSEReader }

var (
	emptyID      = []byte(`"id":""`)
	emptyChoices = []byte(`"choices":[]`)
	usageObject  = []byte(`"usage":{`)
)

// Buffered forwards the reader's answer (see openai.SSEReader.Buffered).
func (f filterReader) Buffered() bool { return f.r.Buffered() }

// Eager forwards to the reader (see openai.Resumable): the filter keeps no
// state of its own between events.
func (f filterReader) Eager(on bool) { f.r.Eager(on) }

func (f filterReader) Next(ev *provider.Event) error {
	for {
		if err := f.r.Next(ev); err != nil {
			return err
		}
		if bytes.Contains(ev.Data, emptyID) && bytes.Contains(ev.Data, emptyChoices) && !bytes.Contains(ev.Data, usageObject) {
			continue // filter-only chunk
		}
		return nil
	}
}

// Error implements provider.Adapter. Azure's envelope is OpenAI's with a
// string code; DeploymentNotFound and content_filter are final.
func (a *Adapter) Error(status int, h *fasthttp.ResponseHeader, body []byte) *provider.Error {
	return provider.OpenAIError(status, h, body)
}

// Ready implements provider.Adapter.
func (a *Adapter) Ready() error { return nil }

// Close implements provider.Adapter.
func (a *Adapter) Close() error { return nil }
