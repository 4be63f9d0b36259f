package responses

import (
	"errors"
	"strconv"
)

// Sentinel errors wrapped by every *Error, so callers can classify with errors.Is.
var (
	// ErrInvalidRequest: the request is malformed (a 400 whatever the upstream).
	ErrInvalidRequest = errors.New("responses: invalid request")
	// ErrUnsupported: the request is valid Responses but a translated (chat-only) upstream cannot
	// express it; a native upstream could. The router may try another candidate before answering.
	ErrUnsupported = errors.New("responses: not expressible on a chat completions upstream")
	// ErrUpstream: the chat answer the translator was handed is not a chat completion.
	ErrUpstream = errors.New("responses: malformed chat completions answer")
)

// Error is a refusal in OpenAI's error shape: the router renders it as
// {"error":{"message","type","param","code"}} with Status. Message never contains request text
// (it names fields and tool types only), so it is safe to log.
type Error struct {
	Status  int
	Message string
	Type    string // "invalid_request_error" or "server_error"
	Param   string // the offending field, e.g. "input[3].type" or "tools[8]"
	Code    string // "unsupported_parameter", "invalid_value", … or ""
	kind    error  // one of the sentinels above
}

func (e *Error) Error() string {
	s := "responses: " + strconv.Itoa(e.Status) + " " + e.Message
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	return s
}

// Unwrap returns ErrInvalidRequest, ErrUnsupported or ErrUpstream.
func (e *Error) Unwrap() error { return e.kind }

func invalid(param, code, msg string) *Error {
	return &Error{Status: 400, Message: msg, Type: "invalid_request_error", Param: param, Code: code, kind: ErrInvalidRequest}
}

func unsupported(param, msg string) *Error {
	return &Error{Status: 400, Message: msg, Type: "invalid_request_error", Param: param, Code: "unsupported_parameter", kind: ErrUnsupported}
}

func badUpstream(msg string) *Error {
	return &Error{Status: 502, Message: msg, Type: "server_error", Code: "server_error", kind: ErrUpstream}
}

// paramPath builds "input[3].content[1]"-style param names. It allocates, but only on the
// error path.
func paramPath(base string, idx ...int) string {
	s := base
	for _, i := range idx {
		s += "[" + strconv.Itoa(i) + "]"
	}
	return s
}
