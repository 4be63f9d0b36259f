package cache

import "errors"

// Sentinel errors. Callers match them with errors.Is.
var (
	// ErrPolicy: a cache policy string is not deterministic, always or off.
	ErrPolicy = errors.New("cache: unknown policy")
	// ErrInvalidJSON: a request or response body is not the JSON expected.
	ErrInvalidJSON = errors.New("cache: invalid JSON")
	// ErrTooDeep: a request body nests deeper than the key derivation allows.
	ErrTooDeep = errors.New("cache: JSON nested too deeply")
	// ErrIncomplete: an answer cannot be stored because it is not complete
	// (no finish_reason, an error event, no choices).
	ErrIncomplete = errors.New("cache: incomplete answer")
	// ErrUnsupported: an answer has a shape the cache cannot convert between
	// JSON and SSE faithfully (for example logprobs), so it is not stored.
	ErrUnsupported = errors.New("cache: answer not convertible")
	// ErrConfig: the cache configuration is invalid.
	ErrConfig = errors.New("cache: invalid config")
	// ErrClosed: the cache was closed.
	ErrClosed = errors.New("cache: closed")
)
