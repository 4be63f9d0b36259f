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
	// Supports reports whether this upstream can serve the endpoint.
	Supports(Endpoint) bool
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
	// Err is the cause (a transport error, a signing failure), for logs and
	// errors.Is; never shown to the client.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("upstream %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
