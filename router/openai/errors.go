package openai

import (
	"strconv"
	"unicode/utf8"
)

// OpenAI error types, the "type" of an error body. Clients' SDKs pick their exception class from the
// HTTP status, so the type is informational; these are the values OpenAI itself sends.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
	TypeAPI            = "api_error"
)

// TypeForStatus returns the OpenAI error type for an HTTP status the router answers with:
//
//	401        authentication_error
//	403        permission_error
//	429        rate_limit_error
//	other 4xx  invalid_request_error (400, 404, 405, 408, 409, 413, 415, 422, …)
//	5xx        server_error
//	other      api_error (a status that should not carry an error body at all)
//
// 404 maps to invalid_request_error because that is what OpenAI sends for both an unknown model
// (with code "model_not_found") and an unknown URL; there is no not_found type on the wire, and SDKs
// key their NotFound exception off the status anyway.
func TypeForStatus(status int) string {
	switch {
	case status == 401:
		return TypeAuthentication
	case status == 403:
		return TypePermission
	case status == 429:
		return TypeRateLimit
	case status >= 400 && status < 500:
		return TypeInvalidRequest
	case status >= 500 && status < 600:
		return TypeServer
	default:
		return TypeAPI
	}
}

// APIError is an error answered to a client: an OpenAI error body and its HTTP status. The router
// declares one package-level value per kind of error (status, type, code) and builds ones with a
// specific message through With; Err carries the cause for logs and errors.Is and is never shown.
type APIError struct {
	Status  int
	Type    string // "" means TypeForStatus(Status)
	Code    string
	Param   string
	Message string
	Err     error
}

func (e *APIError) Error() string {
	return "openai: " + strconv.Itoa(e.Status) + " " + e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *APIError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrX) true for every error built from the package value ErrX with With.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.Status == e.Status && t.Code == e.Code && t.Type == e.Type
}

// With returns a copy of e with another message (and param, when not ""), for the error paths
// that name what was wrong. It allocates; hot paths use the package values as they are.
func (e *APIError) With(message, param string) *APIError {
	c := *e
	c.Message = message
	if param != "" {
		c.Param = param
	}
	return &c
}

// Because returns a copy of e with the cause set.
func (e *APIError) Because(cause error) *APIError {
	c := *e
	c.Err = cause
	return &c
}

// AppendBody appends e's error body to dst.
func (e *APIError) AppendBody(dst []byte) []byte {
	typ := e.Type
	if typ == "" {
		typ = TypeForStatus(e.Status)
	}
	return AppendError(dst, e.Message, typ, e.Param, e.Code)
}

// AppendError appends an OpenAI error body to dst and returns the extended slice:
//
//	{"error":{"message":"…","type":"…","param":null,"code":null}}
//
// All four keys are always present, as the OpenAI schema requires; an empty param or code is
// written as null. message is JSON-escaped and must not contain prompt or completion text (error
// bodies end up in client logs and in our access log's error summaries). Zero allocations when dst
// has room.
func AppendError(dst []byte, message, typ, param, code string) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = appendJSONString(dst, message)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, typ)
	dst = append(dst, `,"param":`...)
	dst = appendJSONStringOrNull(dst, param)
	dst = append(dst, `,"code":`...)
	dst = appendJSONStringOrNull(dst, code)
	return append(dst, "}}"...)
}

// AppendJSONString appends s as a JSON string literal, quotes included, and returns the extended
// slice. It escapes per RFC 8259: the quote, the backslash and control characters (as \n, \r, \t,
// \b, \f or \u00XX); it also escapes U+2028 and U+2029 (so the output is safe inside JavaScript) and
// replaces each byte of invalid UTF-8 with \ufffd (so the output is always valid UTF-8, as
// encoding/json does). Unlike encoding/json it does not escape <, > and &: these bodies are API
// responses, never embedded in HTML, and escaping them would only make them harder to read.
// Zero allocations when dst has room.
func AppendJSONString(dst []byte, s []byte) []byte { return appendJSONString(dst, b2s(s)) }

func appendJSONStringOrNull(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, s)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, copied verbatim
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
