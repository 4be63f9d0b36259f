package mockcloud

import (
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// style is the wire dialect of one endpoint: which error envelope, which extra fields and headers.
// Bedrock's OpenAI-compatible path speaks styleOpenAI bodies with AWS headers (styleBedrockOpenAI).
type style uint8

const (
	styleOpenAI style = iota
	styleAzure
	styleVertex
	styleBedrockOpenAI
)

// errKind says what went wrong independent of dialect; each dialect renders it its own way.
type errKind uint8

const (
	errAuthMissing errKind = iota
	errAuthInvalid
	errBadRequest
	errModelNotFound
	errFault
)

type apiErr struct {
	kind   errKind
	status int
	code   string
	param  string
	msg    string
	model  string
	key    string // the rejected key, masked before use
	fault  Fault
}

// writeOpenAIError writes {"error":{"message","type","param","code"}} (§1.5).
func writeOpenAIError(ctx *fasthttp.RequestCtx, status int, msg, typ, param, code string) {
	b := make([]byte, 0, 256)
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"type":`...)
	b = appendNullable(b, typ)
	b = append(b, `,"param":`...)
	b = appendNullable(b, param)
	b = append(b, `,"code":`...)
	b = appendNullable(b, code)
	b = append(b, "}}"...)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

// maskKey renders a rejected key the way OpenAI does: a short prefix, stars, the last four.
func maskKey(k string) string {
	if len(k) <= 8 {
		return "****"
	}
	return k[:3] + "*****" + k[len(k)-4:]
}

// retrySeconds rounds a retry delay up to whole seconds, the unit of retry-after.
func retrySeconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}

// faultStatus returns the HTTP status a fault answers with in the OpenAI-shaped dialects.
func faultStatus(f Fault) int {
	if f.Status != 0 {
		return f.Status
	}
	switch f.Code {
	case "insufficient_quota", "rate_limit_exceeded", "429", "RESOURCE_EXHAUSTED":
		return 429
	case "content_filter", "invalid_request_error", "INVALID_ARGUMENT":
		return 400
	case "UNAVAILABLE":
		return 503
	}
	return 500
}

// hasFaultStatus reports whether the fault asks for an error response.
func hasFaultStatus(f Fault) bool { return f.Status != 0 || f.Code != "" }

// writeOpenAIFault renders an injected fault as OpenAI does (§1.5, §1.6).
func writeOpenAIFault(ctx *fasthttp.RequestCtx, f Fault) {
	status := faultStatus(f)
	if f.RetryAfter > 0 && f.Code != "insufficient_quota" {
		ctx.Response.Header.Set("retry-after", strconv.FormatInt(retrySeconds(f.RetryAfter), 10))
	}
	msg, typ, code := openAIFaultBody(status, f.Code)
	writeOpenAIError(ctx, status, msg, typ, "", code)
}

func openAIFaultBody(status int, code string) (msg, typ, outCode string) {
	switch {
	case code == "insufficient_quota":
		return "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.", "insufficient_quota", "insufficient_quota"
	case status == 429:
		if code == "" {
			code = "rate_limit_exceeded"
		}
		return "Rate limit reached for requests in organization org-mock on requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.", "requests", code
	case status == 400:
		return "Invalid request.", "invalid_request_error", code
	case status == 503:
		return "The engine is currently overloaded, please try again later", "server_error", code
	case status >= 500:
		return "The server had an error while processing your request. Sorry about that!", "server_error", code
	}
	return "Request failed.", "invalid_request_error", code
}

// openAIErrorJSON is the in-stream error event payload for a mid-stream fault on SSE dialects.
func openAIErrorJSON(f Fault) []byte {
	msg, typ, code := openAIFaultBody(faultStatus(f), f.Code)
	b := append([]byte(nil), `{"error":{"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"type":`...)
	b = appendNullable(b, typ)
	b = append(b, `,"param":null,"code":`...)
	b = appendNullable(b, code)
	return append(b, "}}"...)
}

// writeError renders e in the endpoint's dialect.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, st style, e apiErr) {
	switch st {
	case styleAzure:
		writeAzureError(ctx, e)
	case styleVertex:
		writeVertexError(ctx, e)
	default:
		switch e.kind {
		case errAuthMissing:
			if st == styleBedrockOpenAI {
				writeOpenAIError(ctx, 401, "Missing Authentication Token", "authentication_error", "", "")
				return
			}
			writeOpenAIError(ctx, 401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.", "invalid_request_error", "", "")
		case errAuthInvalid:
			writeOpenAIError(ctx, 401, "Incorrect API key provided: "+maskKey(e.key)+". You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "", "invalid_api_key")
		case errBadRequest:
			writeOpenAIError(ctx, 400, e.msg, "invalid_request_error", e.param, e.code)
		case errModelNotFound:
			writeOpenAIError(ctx, 404, "The model `"+e.model+"` does not exist or you do not have access to it.", "invalid_request_error", "", "model_not_found")
		case errFault:
			writeOpenAIFault(ctx, e.fault)
		}
	}
}
