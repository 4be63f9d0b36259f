package openai

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// MaxMessageBytes caps an upstream error message copied into an error the
// router answers with, so a cloud that echoes a huge body cannot bloat logs.
const MaxMessageBytes = 512

// ErrorBody is what an OpenAI-style ({"error":{"message","type","param","code"}})
// or google.rpc-style ({"error":{"code":429,"message","status","details"}})
// error body says; the latter may come wrapped in a JSON array.
type ErrorBody struct {
	Message string
	Type    string // OpenAI "type"
	Param   string
	Code    string // OpenAI "code" when it is a string
	NumCode int    // numeric "code" (google.rpc: the HTTP status)
	Status  string // google.rpc "status", e.g. "RESOURCE_EXHAUSTED"
	// RetryDelay is google.rpc.RetryInfo.retryDelay, when present.
	RetryDelay time.Duration
}

// ParseErrorBody reads body as an OpenAI- or Google-style error envelope. It
// reports false when body is not JSON or has no "error" object (an HTML page,
// an AWS {"message"} body).
func ParseErrorBody(p *fastjson.Parser, body []byte) (ErrorBody, bool) {
	var eb ErrorBody
	body = bytes.TrimSpace(body)
	if len(body) == 0 || (body[0] != '{' && body[0] != '[') {
		return eb, false
	}
	v, err := p.ParseBytes(body)
	if err != nil {
		return eb, false
	}
	if v.Type() == fastjson.TypeArray {
		a := v.GetArray()
		if len(a) == 0 {
			return eb, false
		}
		v = a[0]
	}
	e := v.Get("error")
	if e == nil {
		return eb, false
	}
	if e.Type() == fastjson.TypeString { // {"error":"text"} (some proxies)
		eb.Message = Truncate(string(e.GetStringBytes()))
		return eb, true
	}
	if e.Type() != fastjson.TypeObject {
		return eb, false
	}
	eb.Message = Truncate(string(e.GetStringBytes("message")))
	eb.Type = string(e.GetStringBytes("type"))
	eb.Param = string(e.GetStringBytes("param"))
	eb.Status = string(e.GetStringBytes("status"))
	if c := e.Get("code"); c != nil {
		switch c.Type() {
		case fastjson.TypeString:
			s := string(c.GetStringBytes())
			eb.Code = s
			if n, err := strconv.Atoi(s); err == nil { // Azure-style "429"
				eb.NumCode = n
			}
		case fastjson.TypeNumber:
			eb.NumCode = c.GetInt()
		}
	}
	for _, d := range e.GetArray("details") {
		if strings.HasSuffix(string(d.GetStringBytes("@type")), "google.rpc.RetryInfo") {
			if dl, err := time.ParseDuration(string(d.GetStringBytes("retryDelay"))); err == nil && dl > 0 {
				eb.RetryDelay = dl
			}
		}
	}
	return eb, true
}

// Truncate cuts s to MaxMessageBytes on a UTF-8 boundary.
func Truncate(s string) string {
	if len(s) <= MaxMessageBytes {
		return s
	}
	i := MaxMessageBytes
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// StatusForType maps an OpenAI error type or code to the HTTP status a client
// expects; it is used for errors that arrive inside a 200 stream.
func StatusForType(typ, code string) int {
	switch {
	case typ == "rate_limit_error" || code == "rate_limit_exceeded" || typ == "tokens" || typ == "requests":
		return 429
	case typ == "insufficient_quota" || code == "insufficient_quota":
		return 429
	case typ == "invalid_request_error":
		return 400
	case typ == "authentication_error":
		return 401
	case typ == "permission_error":
		return 403
	case typ == "not_found_error":
		return 404
	}
	return 500
}

// StreamError reads an error payload inside a stream (OpenAI- or
// Google-style, possibly array-wrapped) as the error the client is told.
func StreamError(payload []byte) *APIError {
	var p fastjson.Parser
	eb, _ := ParseErrorBody(&p, payload)
	st := eb.NumCode
	if st < 400 || st > 599 {
		st = StatusForType(eb.Type, eb.Code)
	}
	code := eb.Code
	if code == "" {
		code = eb.Status
	}
	msg := eb.Message
	if msg == "" {
		msg = "upstream reported an error inside the stream"
	}
	typ := eb.Type
	if typ == "" {
		typ = TypeForStatus(st)
	}
	return &APIError{Status: st, Message: msg, Type: typ, Param: eb.Param, Code: code}
}
