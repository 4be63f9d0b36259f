package vertex

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// maxRetryDelay: a RetryInfo delay longer than this means a daily quota, not a
// per-minute one; retrying within the request is pointless.
const maxRetryDelay = 5 * time.Minute

// Error classifies a non-2xx answer. Vertex sends google.rpc bodies, sometimes
// wrapped in an array, and HTML pages for unknown paths; all are accepted.
// 429 and 500/502/503/504 are retryable (429 honouring RetryInfo.retryDelay or
// Retry-After); 400, 401, 403 and 404 are not. A 401 (UNAUTHENTICATED: the
// token was revoked or expired) is marked Credential, so the attempt loop has
// Refresh fetch a new token and tries this upstream once more.
func (a *Adapter) Error(status int, h *fasthttp.ResponseHeader, body []byte) *provider.Error {
	var p fastjson.Parser
	eb, ok := provider.ParseErrorBody(&p, body)
	e := &provider.Error{Status: status, Type: provider.TypeForStatus(status), Message: eb.Message, Param: eb.Param,
		Credential: status == 401}
	switch {
	case eb.Status != "":
		e.Code = eb.Status
	case eb.Code != "":
		e.Code = eb.Code
	}
	if eb.Type != "" {
		e.Type = eb.Type
	}
	switch status {
	case 429:
		e.Retryable = true
		e.Code = "rate_limit_exceeded"
		if eb.Status != "" && eb.Status != "RESOURCE_EXHAUSTED" {
			e.Code = eb.Status
		}
	case 408, 500, 502, 503, 504:
		e.Retryable = true
	}
	if !ok || e.Message == "" {
		e.Message = "vertex returned HTTP " + strconv.Itoa(status)
		if !ok && len(body) > 0 {
			e.Message += " with a non-JSON body"
		}
	}
	e.RetryAfter = eb.RetryDelay
	if e.RetryAfter == 0 && h != nil {
		if v := h.Peek(fasthttp.HeaderRetryAfter); len(v) > 0 {
			if f, err := strconv.ParseFloat(string(v), 64); err == nil && f > 0 {
				e.RetryAfter = time.Duration(f * float64(time.Second))
			}
		}
	}
	if e.RetryAfter > maxRetryDelay {
		e.Retryable = false
	}
	return e
}
