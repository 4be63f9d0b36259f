// Package provider defines the contract between the router and one cloud's
// adapter. Each cloud lives in its own sub-package (openai, azure, bedrock,
// vertex) and owns its URL scheme, auth and translation; the rest of the router
// sees one OpenAI-shaped exchange.
package provider

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/openai"
)

// Endpoint is one OpenAI API operation the router forwards.
type Endpoint uint8

// The endpoints the router forwards.
const (
	ChatCompletions Endpoint = iota + 1
	Completions
	Embeddings
	Responses
)

var endpointSuffix = [...]string{"", "chat/completions", "completions", "embeddings", "responses"}

// Suffix is the endpoint's path below /v1/, e.g. "chat/completions".
func (e Endpoint) Suffix() string {
	if int(e) < len(endpointSuffix) {
		return endpointSuffix[e]
	}
	return ""
}

// String returns the suffix; it names the endpoint in logs and cache keys.
func (e Endpoint) String() string { return e.Suffix() }

// Call is one upstream attempt, as the router hands it to an adapter.
type Call struct {
	Endpoint Endpoint
	// Model is the upstream's own model or deployment id (the public name mapped
	// through the upstream's models table).
	Model string
	// Body is the OpenAI-shaped request body for this upstream: redacted, with
	// "model" already set to Model and stream_options.include_usage added for
	// streams. The adapter must not keep it after Prepare returns.
	Body []byte
	// Stream reports whether the client asked for a stream.
	Stream bool
}

// Adapter speaks one cloud's dialect. An Adapter is built once per configured
// upstream and is safe for concurrent use.
type Adapter interface {
	// Provider names the cloud: "openai", "azure", "bedrock" or "vertex".
	Provider() string
	// Supports reports whether this upstream can serve the endpoint natively, i.e. whether
	// Prepare accepts a Call with it. For Responses ask ResponsesMode: a chat-only upstream
	// serves Responses translated (Supports(Responses) false, ResponsesMode Translated).
	Supports(Endpoint) bool
	// ResponsesMode says how this upstream serves the Responses API for one of its models
	// (the upstream's own model id): natively (Prepare a Call with Endpoint Responses and the
	// Responses body), translated (router/responses turns the request into Chat Completions and
	// the router Prepares a ChatCompletions call), or not at all.
	ResponsesMode(model string) ResponsesMode
	// Prepare writes the method, URL, headers, auth and body of one attempt into
	// req. It is called once per attempt, so signatures and tokens are fresh.
	Prepare(req *fasthttp.Request, c *Call) error
	// DecodeJSON turns a 2xx non-streamed answer into an OpenAI-shaped body.
	// Adapters whose cloud already speaks OpenAI return body itself, untouched;
	// others append the translation to dst and return it.
	DecodeJSON(dst []byte, c *Call, body []byte) ([]byte, error)
	// Events reads a 2xx streamed answer as OpenAI SSE events, in arrival order.
	Events(c *Call, body io.Reader) EventReader
	// Error turns a non-2xx answer into an OpenAI-shaped error and says whether
	// another attempt (here or elsewhere) may succeed.
	Error(status int, h *fasthttp.ResponseHeader, body []byte) *Error
	// Ready is nil when the adapter can authenticate; otherwise it says why not
	// (for example: the last background token refresh failed).
	Ready() error
	// Close stops background work (token refreshers). Safe to call twice.
	Close() error
}

// ResponsesMode is how an upstream serves the Responses API for one model.
type ResponsesMode uint8

// The ways an upstream serves Responses.
const (
	// ResponsesUnsupported: the upstream cannot serve Responses for this model.
	ResponsesUnsupported ResponsesMode = iota
	// ResponsesNative: the cloud has a Responses endpoint for this model; bodies and events pass
	// through (with the adapter's own fixes, such as Azure's store:true).
	ResponsesNative
	// ResponsesTranslated: the router translates to Chat Completions (router/responses).
	ResponsesTranslated
)

var responsesModeNames = [...]string{"unsupported", "native", "translated"}

func (m ResponsesMode) String() string {
	if int(m) < len(responsesModeNames) {
		return responsesModeNames[m]
	}
	return "unknown"
}

// ParseResponsesMode reads a config value: "native", "translated", "off", or "" (the
// provider's default, reported as ok with mode ResponsesUnsupported and def true).
func ParseResponsesMode(s string) (m ResponsesMode, def bool, err error) {
	switch s {
	case "":
		return ResponsesUnsupported, true, nil
	case "native":
		return ResponsesNative, false, nil
	case "translated":
		return ResponsesTranslated, false, nil
	case "off":
		return ResponsesUnsupported, false, nil
	}
	return 0, false, fmt.Errorf("provider: responses mode %q (want native, translated or off)", s)
}

// WithResponsesMode returns a overriding the adapter's per-model default: every model of
// that upstream is served in mode m (an operator's `responses:` setting). Every adapter can
// Prepare both native Responses and chat calls, so any mode is valid for any adapter.
func WithResponsesMode(a Adapter, m ResponsesMode) Adapter { return responsesOverride{a, m} }

type responsesOverride struct {
	Adapter
	mode ResponsesMode
}

func (o responsesOverride) ResponsesMode(string) ResponsesMode { return o.mode }

// Event and EventReader are router/openai's: adapters yield OpenAI-shaped
// events, whatever their cloud sends.
type (
	Event       = openai.Event
	EventReader = openai.EventReader
)

// ErrInvalidRequest is wrapped by a Prepare error when this upstream cannot
// express the request (say, an image part Converse does not take). The router
// tries the next candidate, and answers 400 if none can serve it.
var ErrInvalidRequest = errors.New("provider: request not expressible for this upstream")

// Error is an upstream failure in OpenAI's shape, with its retry class.
type Error struct {
	Status  int    // HTTP status for the client
	Message string // human-readable; never contains prompt text or keys
	Type    string // OpenAI error type, e.g. "rate_limit_error"
	Param   string
	Code    string // OpenAI or cloud code, e.g. "rate_limit_exceeded"
	// Retryable reports whether another attempt may succeed.
	Retryable bool
	// RetryAfter is the cloud's hint before the next attempt to the same upstream.
	RetryAfter time.Duration
	// Credential reports that the cloud refused the credential the attempt
	// carried (expired, revoked, not recognised). If the adapter is a
	// Refresher, the same upstream is tried once more with a renewed one.
	Credential bool
	// Err is the cause (a transport error, a signing failure), for logs and
	// errors.Is; never shown to the client.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("upstream %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
