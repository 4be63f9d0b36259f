package provider

import (
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/openai"
)

// RetryAfter reads a cloud's retry hint: retry-after-ms (float milliseconds),
// then x-ms-retry-after-ms, then retry-after (seconds or an HTTP date). Zero
// means no hint.
func RetryAfter(h *fasthttp.ResponseHeader) time.Duration {
	for _, name := range [...]string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if v := h.Peek(name); len(v) > 0 {
			if ms, err := strconv.ParseFloat(string(v), 64); err == nil && ms >= 0 {
				return time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	if v := h.Peek("retry-after"); len(v) > 0 {
		if s, err := strconv.ParseFloat(string(v), 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second))
		}
		if t, err := http.ParseTime(string(v)); err == nil {
			if d := time.Until(t); d > 0 {
				return d
			}
		}
	}
	return 0
}

// RetryableStatus is the retry class of a bare status: 408, 409, 429 and 5xx
// may succeed on another attempt; everything else will not.
func RetryableStatus(status int) bool {
	return status == 408 || status == 409 || status == 429 || status >= 500
}

// TypeForStatus, StatusForType, ParseErrorBody and Truncate are
// router/openai's, here for the adapters' convenience.
func TypeForStatus(status int) string { return openai.TypeForStatus(status) }

// StatusForType: see openai.StatusForType.
func StatusForType(typ, code string) int { return openai.StatusForType(typ, code) }

// ErrorBody is what a cloud's error body says: see openai.ErrorBody.
type ErrorBody = openai.ErrorBody

// ParseErrorBody: see openai.ParseErrorBody.
func ParseErrorBody(p *fastjson.Parser, body []byte) (ErrorBody, bool) {
	return openai.ParseErrorBody(p, body)
}

// Truncate: see openai.Truncate.
func Truncate(s string) string { return openai.Truncate(s) }

// StreamError reads an error payload inside a stream. The stream has already
// started, so Retryable only says what kind of failure it was; the router does
// not retry after the first byte.
func StreamError(payload []byte) *Error { return FromAPI(openai.StreamError(payload)) }

// FromAPI classifies an error the cloud reported in OpenAI's shape: a 429
// other than insufficient_quota and a 5xx may succeed elsewhere.
func FromAPI(e *openai.APIError) *Error {
	typ := e.Type
	if typ == "" {
		typ = TypeForStatus(e.Status)
	}
	return &Error{Status: e.Status, Message: e.Message, Type: typ, Param: e.Param, Code: e.Code, Err: e.Err,
		Retryable: e.Status == 429 && e.Code != "insufficient_quota" || e.Status >= 500}
}

// OpenAIError classifies an error answer from a cloud that speaks OpenAI's
// error shape ({"error":{"message","type","param","code"}}), including Azure's
// variant whose code is a string of the status or an Azure code, Google's
// (possibly array-wrapped) google.rpc variant, and AWS's {"message"}. Non-JSON
// bodies (an HTML error page) are tolerated. The x-should-retry header, when
// present, overrides the status-based class, as it does in OpenAI's SDKs.
func OpenAIError(status int, h *fasthttp.ResponseHeader, body []byte) *Error {
	e := &Error{Status: status, Retryable: RetryableStatus(status), RetryAfter: RetryAfter(h)}
	var p fastjson.Parser
	if eb, ok := ParseErrorBody(&p, body); ok {
		e.Message, e.Type, e.Param, e.Code = eb.Message, eb.Type, eb.Param, eb.Code
		if e.Code == "" && eb.NumCode != 0 {
			e.Code = strconv.Itoa(eb.NumCode)
		}
		if e.Code == "" {
			e.Code = eb.Status
		}
		if e.RetryAfter == 0 {
			e.RetryAfter = eb.RetryDelay
		}
	} else if v, err := p.ParseBytes(body); err == nil && v.Type() == fastjson.TypeObject {
		e.Message = Truncate(string(v.GetStringBytes("message"))) // AWS-style {"message":…}
	}
	if e.Message == "" {
		e.Message = "upstream answered " + strconv.Itoa(status) + " " + http.StatusText(status)
	}
	if e.Type == "" {
		e.Type = TypeForStatus(status)
	}
	switch e.Code {
	case "insufficient_quota", "content_filter", "DeploymentNotFound", "invalid_api_key":
		// Same status as a transient failure, different meaning: no attempt can succeed.
		e.Retryable = false
	}
	if e.Type == "insufficient_quota" {
		e.Retryable = false
	}
	switch string(h.Peek("x-should-retry")) {
	case "true":
		e.Retryable = true
	case "false":
		e.Retryable = false
	}
	// 401 is how every OpenAI-shaped cloud refuses a key or token (expired,
	// revoked, wrong); 403 is a permission the credential lacks.
	e.Credential = status == 401
	return e
}
