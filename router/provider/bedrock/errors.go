package bedrock

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// errClass is how one AWS error code reads to an OpenAI client and to the
// attempt loop. status is used when the HTTP status says nothing (in-stream
// exceptions arrive inside a 200).
type errClass struct {
	status int
	typ    string
	retry  bool
}

// errClasses is keyed by the lower-cased AWS error code: in-stream exception
// names are lowerCamel ("throttlingException"), headers UpperCamel.
var errClasses = map[string]errClass{
	"throttlingexception":                 {429, "rate_limit_error", true},
	"modelnotreadyexception":              {429, "server_error", true},
	"serviceunavailableexception":         {503, "server_error", true},
	"internalserverexception":             {500, "server_error", true},
	"modeltimeoutexception":               {408, "server_error", true},
	"modelerrorexception":                 {424, "server_error", true},
	"modelstreamerrorexception":           {424, "server_error", true},
	"validationexception":                 {400, "invalid_request_error", false},
	"accessdeniedexception":               {403, "permission_error", false},
	"resourcenotfoundexception":           {404, "invalid_request_error", false},
	"servicequotaexceededexception":       {429, "insufficient_quota", false},
	"invalidsignatureexception":           {403, "authentication_error", false},
	"incompletesignatureexception":        {403, "authentication_error", false},
	"unrecognizedclientexception":         {403, "authentication_error", false},
	"expiredtokenexception":               {403, "authentication_error", false},
	"missingauthenticationtokenexception": {403, "authentication_error", false},
	"signaturedoesnotmatch":               {403, "authentication_error", false},
}

// errorCode extracts the code from an x-amzn-ErrorType value or a __type:
// the text before ':' and after any '#'
// ("ThrottlingException:http://internal…" → "ThrottlingException",
// "com.amazon.coral#AccessDeniedException" → "AccessDeniedException").
func errorCode(s []byte) string {
	if i := bytes.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if i := bytes.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	return string(bytes.TrimSpace(s))
}

// classify builds the provider error for an AWS error code. status is the
// HTTP status of the answer, or 0 for errors inside a stream.
func classify(code string, status int, msg string) *provider.Error {
	lc := strings.ToLower(code)
	c, known := errClasses[lc]
	if !known {
		c = errClass{status: status, typ: "server_error"}
		switch {
		case status == 0:
			c.status, c.retry = 500, true
		case status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504:
			c.retry = true
			if status == 429 {
				c.typ = "rate_limit_error"
			}
		case status == 401:
			c.typ = "authentication_error"
		case status == 403:
			c.typ = "permission_error"
		case status >= 400 && status < 500:
			c.typ = "invalid_request_error"
		}
	}
	if status >= 400 {
		c.status = status
	}
	// The refusals a renewed credential can cure: an expired session token,
	// one AWS no longer recognises (revoked or rotated keys), or a 401.
	credential := lc == "expiredtokenexception" || lc == "unrecognizedclientexception" || c.status == 401
	if msg == "" {
		msg = "bedrock returned " + code
		if code == "" {
			msg = "bedrock returned HTTP " + strconv.Itoa(c.status)
		}
	}
	return &provider.Error{Status: c.status, Message: provider.Truncate(msg), Type: c.typ, Code: code, Retryable: c.retry,
		Credential: credential}
}

// Error classifies a non-2xx answer. The code comes from x-amzn-ErrorType or
// the body's __type; on /openai/v1 an OpenAI-style {"error":{…}} is read too.
// Bedrock sends no Retry-After, but one is honoured if present.
func (a *Adapter) Error(status int, h *fasthttp.ResponseHeader, body []byte) *provider.Error {
	var code, msg string
	if h != nil {
		code = errorCode(h.Peek("x-amzn-ErrorType"))
	}
	var p fastjson.Parser
	if eb, ok := provider.ParseErrorBody(&p, body); ok {
		if code == "" {
			e := classify("", status, eb.Message)
			if eb.Type != "" {
				e.Type = eb.Type
			}
			e.Code, e.Param = eb.Code, eb.Param
			if eb.Code == "insufficient_quota" || eb.Type == "insufficient_quota" {
				e.Retryable = false
			}
			e.RetryAfter = retryAfter(h)
			return e
		}
		msg = eb.Message
	} else if v, err := p.ParseBytes(body); err == nil && v.Type() == fastjson.TypeObject {
		if code == "" {
			code = errorCode(v.GetStringBytes("__type"))
		}
		m := v.GetStringBytes("message")
		if m == nil {
			m = v.GetStringBytes("Message")
		}
		msg = string(m)
	}
	e := classify(code, status, msg)
	e.RetryAfter = retryAfter(h)
	return e
}

// retryAfter reads a Retry-After header in seconds, if any.
func retryAfter(h *fasthttp.ResponseHeader) time.Duration {
	if h == nil {
		return 0
	}
	v := h.Peek(fasthttp.HeaderRetryAfter)
	if len(v) == 0 {
		return 0
	}
	if f, err := strconv.ParseFloat(string(v), 64); err == nil && f > 0 {
		return time.Duration(f * float64(time.Second))
	}
	if t, err := fasthttp.ParseHTTPDate(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
