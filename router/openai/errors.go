package openai

import (
	"unicode/utf8"

	"github.com/switchyard-dev/switchyard/router/provider"
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
func TypeForStatus(status int) string { return provider.TypeForStatus(status) }

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
