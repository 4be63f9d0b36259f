package router

import (
	"errors"
	"net"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// writeError answers with an OpenAI-style error body. Every error the router
// produces goes through here, so every one has the same shape.
func writeError(ctx *fasthttp.RequestCtx, status int, message, typ, param, code string) {
	if typ == "" {
		typ = provider.TypeForStatus(status)
	}
	var buf [512]byte
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(openai.AppendError(buf[:0], message, typ, param, code))
}

// writeUpstreamError answers with an upstream's classified error.
func writeUpstreamError(ctx *fasthttp.RequestCtx, e *provider.Error) {
	if e.RetryAfter > 0 && (e.Status == 429 || e.Status == 503) {
		ctx.Response.Header.Set("retry-after", strconv.Itoa(int((e.RetryAfter+999_999_999)/1_000_000_000)))
	}
	writeError(ctx, e.Status, e.Message, e.Type, e.Param, e.Code)
}

// transportError classifies a failed attempt that got no answer at all.
func transportError(err error) *provider.Error {
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || (errors.As(err, &ne) && ne.Timeout()) {
		return &provider.Error{Status: 504, Type: "api_error", Code: "upstream_timeout",
			Message: "The upstream did not answer in time.", Retryable: true}
	}
	return &provider.Error{Status: 502, Type: "api_error", Code: "upstream_unavailable",
		Message: "The upstream connection failed before an answer arrived.", Retryable: true}
}

// serverErrorHandler answers requests fasthttp rejects before our handler
// runs (oversized bodies, slow clients, broken framing) in OpenAI's shape.
func serverErrorHandler(ctx *fasthttp.RequestCtx, err error) {
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, 413, "Request body too large.", "invalid_request_error", "", "request_too_large")
	case errors.As(err, &te) && te.Timeout():
		writeError(ctx, 408, "The request body was not received in time.", "invalid_request_error", "", "request_timeout")
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		writeError(ctx, 431, "Request headers too large.", "invalid_request_error", "", "headers_too_large")
	default:
		writeError(ctx, 400, "The request could not be parsed as HTTP.", "invalid_request_error", "", "bad_request")
	}
	ctx.SetConnectionClose()
}
