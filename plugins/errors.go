package plugins

import (
	"errors"
	"strconv"
)

// ErrPluginFailed is wrapped by every *Error built by Failed, so callers can
// test for "a plugin's fail-closed policy rejected this request" with errors.Is.
var ErrPluginFailed = errors.New("plugins: plugin failed")

// Error is a plugin failure that the router turns into an OpenAI-style error
// response. Message is safe to show to the client: it names the plugin and
// the reason ("fuel exhausted"), never request content.
type Error struct {
	Status  int    // HTTP status, 503 for a fail-closed plugin
	Message string // OpenAI error.message
	Code    string // OpenAI error.code, "plugin_failed"
	Err     error  // the cause, for logs and errors.Is; never shown to the client
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause and ErrPluginFailed.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrPluginFailed}
	}
	return []error{ErrPluginFailed, e.Err}
}

// Failed builds the error a fail-closed plugin's failure turns into:
// 503, `redaction plugin "pii" failed: fuel exhausted`, code plugin_failed.
// hook is the hook that failed (KindRoute or KindRedact); reason is a short
// phrase without content.
func Failed(hook Kind, name, reason string, cause error) *Error {
	what := "routing"
	if hook == KindRedact {
		what = "redaction"
	}
	return &Error{
		Status:  503,
		Message: what + " plugin " + strconv.Quote(name) + " failed: " + reason,
		Code:    "plugin_failed",
		Err:     cause,
	}
}
