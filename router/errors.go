package router

import (
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// The errors the router answers with. Each is one kind (status, type, code);
// paths that name what was wrong copy one with With.
var (
	errMethodPOST = &openai.APIError{Status: 405, Code: "method_not_allowed", Message: "Method not allowed: use POST."}
	errMethodGET  = &openai.APIError{Status: 405, Code: "method_not_allowed", Message: "Method not allowed: use GET."}
	errMediaType  = &openai.APIError{Status: 415, Code: "unsupported_media_type",
		Message: "Unsupported content type: send the body as application/json."}
	errBadKey    = &openai.APIError{Status: 401, Type: openai.TypeInvalidRequest, Code: "invalid_api_key", Message: "Incorrect API key provided."}
	errEmptyBody = &openai.APIError{Status: 400, Code: "invalid_json",
		Message: "We could not parse the JSON body of your request: the body is empty."}
	errInvalidJSON    = &openai.APIError{Status: 400, Code: "invalid_json", Message: "We could not parse the JSON body of your request."}
	errDuplicate      = &openai.APIError{Status: 400, Code: "duplicate_member"}
	errInvalidType    = &openai.APIError{Status: 400, Code: "invalid_type"}
	errMissing        = &openai.APIError{Status: 400, Code: "missing_required_parameter"}
	errEmptyArray     = &openai.APIError{Status: 400, Code: "empty_array"}
	errInvalidValue   = &openai.APIError{Status: 400, Code: "invalid_value"}
	errModelNotFound  = &openai.APIError{Status: 404, Param: "model", Code: "model_not_found"}
	errEndpointDenied = &openai.APIError{Status: 403, Type: openai.TypeInvalidRequest, Code: "permission_denied",
		Message: "This API key may not call this endpoint."}
	errUnknownURL      = &openai.APIError{Status: 404, Code: "unknown_url"}
	errCacheMiss       = &openai.APIError{Status: 504, Code: "cache_miss", Message: "The answer is not in the cache (only-if-cached)."}
	errPluginFailed    = &openai.APIError{Status: 503, Type: openai.TypeAPI, Code: "plugin_failed"}
	errBadTranslation  = &provider.Error{Status: 502, Type: openai.TypeAPI, Code: "bad_upstream_response", Retryable: true}
	errStreamCut       = &provider.Error{Status: 502, Type: openai.TypeAPI, Code: "upstream_stream_interrupted", Message: "The upstream stream ended unexpectedly."}
	errBodyTooLarge    = &openai.APIError{Status: 413, Code: "request_too_large", Message: "Request body too large."}
	errRequestTimeout  = &openai.APIError{Status: 408, Code: "request_timeout", Message: "The request body was not received in time."}
	errHeadersTooLarge = &openai.APIError{Status: 431, Code: "headers_too_large", Message: "Request headers too large."}
	errBadHTTP         = &openai.APIError{Status: 400, Code: "bad_request", Message: "The request could not be parsed as HTTP."}
)

// writeError answers with an OpenAI-style error body. Every error the router
// produces goes through here (or writeUpstreamError), so every one has the
// same shape.
func writeError(ctx *fasthttp.RequestCtx, e *openai.APIError) {
	var buf [512]byte
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("application/json")
	ctx.SetBody(e.AppendBody(buf[:0]))
}

// writeUpstreamError answers with an upstream's classified error.
func writeUpstreamError(ctx *fasthttp.RequestCtx, e *provider.Error) {
	if e.RetryAfter > 0 && (e.Status == 429 || e.Status == 503) {
		ctx.Response.Header.Set("retry-after", strconv.Itoa(int((e.RetryAfter+999_999_999)/1_000_000_000)))
	}
	writeError(ctx, &openai.APIError{Status: e.Status, Type: e.Type, Param: e.Param, Code: e.Code, Message: e.Message})
}

// pluginError answers a plugin failure: its own message (which names the
// plugin and the reason, never content) and status.
func pluginError(ctx *fasthttp.RequestCtx, err error) {
	var pe *plugins.Error
	if errors.As(err, &pe) {
		writeError(ctx, &openai.APIError{Status: pe.Status, Type: openai.TypeAPI, Code: pe.Code, Message: pe.Message})
		return
	}
	writeError(ctx, errPluginFailed.With("A plugin failed: "+err.Error(), ""))
}

// streamError classifies what ended a stream: an adapter's own error, an
// error the cloud reported inside the stream, or a cut.
func streamError(err error) *provider.Error {
	var pe *provider.Error
	if errors.As(err, &pe) {
		return pe
	}
	var ae *openai.APIError
	if errors.As(err, &ae) {
		return provider.FromAPI(ae)
	}
	return errStreamCut
}

// serverError answers requests fasthttp rejects before our handler runs
// (oversized bodies, slow clients, broken framing) in OpenAI's shape, with an
// x-request-id like every other answer.
func (in *Instance) serverError(ctx *fasthttp.RequestCtx, err error) {
	var id [32]byte
	ctx.Response.Header.SetCanonical(hdrRequestID, strconv.AppendUint(append(id[:0], in.idPrefix...), ctx.ID(), 16))
	serverErrorHandler(ctx, err)
}

// serverErrorHandler writes the error body of a request fasthttp rejected.
func serverErrorHandler(ctx *fasthttp.RequestCtx, err error) {
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, errBodyTooLarge)
	case errors.As(err, &te) && te.Timeout():
		writeError(ctx, errRequestTimeout)
	case errors.As(err, new(*fasthttp.ErrSmallBuffer)):
		writeError(ctx, errHeadersTooLarge)
	default:
		writeError(ctx, errBadHTTP)
	}
	ctx.SetConnectionClose()
}
