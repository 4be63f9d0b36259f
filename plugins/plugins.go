// Package plugins is the boundary between the router core and plugins.
//
// The core calls only the interfaces here; plugins/wasm implements them with
// wazero and plugins/native with hashicorp/go-plugin. The core never imports
// either runtime.
package plugins

import "context"

// Request is the routing plugin's view of one request. Byte slices are views
// into the request and are valid only for the duration of the call.
type Request struct {
	Model         []byte // public model name the client asked for
	Tenant        string
	Path          string // e.g. "/v1/chat/completions"
	PoP           string // PoP name
	Region        string // PoP region
	Stream        bool
	Deterministic bool
	PromptTokens  int32 // estimate: body bytes / 4
	Headers       []Header
}

// Header is one selected request header (x-switchyard-*, user-agent, …).
type Header struct {
	Name, Value []byte
}

// Upstream is one row of the live upstream table a routing plugin sees.
type Upstream struct {
	Name      string
	Provider  string
	Region    string
	Healthy   bool
	LatencyUS uint32  // EWMA of whole-answer latency, microseconds
	TTFBUS    uint32  // EWMA of time to first byte, microseconds
	InFlight  uint32  // attempts in flight now
	ErrorRate float32 // EWMA of failed attempts, 0..1
	PriceIn   float32 // per million input tokens
	PriceOut  float32 // per million output tokens
	Weight    uint32
}

// Router chooses upstreams for a request.
type Router interface {
	// Route appends to dst the indices into ups of the chosen upstreams, best
	// first (the rest are fallbacks), and returns it. Returning dst unchanged
	// means "no opinion": the configured default order applies. It must not
	// allocate on the steady path.
	Route(ctx context.Context, req *Request, ups []Upstream, dst []int) ([]int, error)
}

// Redactor rewrites a request body so that what it removes never leaves the PoP.
type Redactor interface {
	// Redact appends the rewritten body to dst and returns it, recording each
	// placeholder and its original in v. When nothing matched it returns
	// (dst, nil) with nothing appended and v unchanged: callers then keep the
	// original body. A host checks what a plugin returns before using it
	// (Vault.Add for the placeholder's shape, Vault.Verify for the body; an
	// empty body is a failure) and on failure leaves dst and v as they were.
	Redact(ctx context.Context, body []byte, dst []byte, v *Vault) ([]byte, error)
}
