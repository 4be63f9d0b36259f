package mockcloud

import (
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// This file is Azure OpenAI (§2): the classic deployment-scoped paths with a required api-version,
// the unversioned /openai/v1 paths, api-key or Bearer auth, content-filter annotations, and Azure's
// error bodies and throttling headers.

const azureDeploymentNotFound = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."

func (s *Server) handleAzure(ctx *fasthttp.RequestCtx) {
	setAzureHeaders(ctx)
	path := string(ctx.Path())
	post := ctx.IsPost()
	var (
		ep  endpoint
		dep string // classic path: the deployment from the URL
	)
	switch {
	case strings.HasPrefix(path, "/openai/deployments/"):
		rest := strings.TrimPrefix(path, "/openai/deployments/")
		d, op, ok := strings.Cut(rest, "/")
		if !ok || d == "" || !post {
			writeAzureNotFound(ctx)
			return
		}
		switch op {
		case "chat/completions":
			ep = epChat
		case "completions":
			ep = epCompletions
		case "embeddings":
			ep = epEmbeddings
		default:
			writeAzureNotFound(ctx)
			return
		}
		if len(ctx.QueryArgs().Peek("api-version")) == 0 {
			writeAzureNotFound(ctx)
			return
		}
		dep = d
	case post && path == "/openai/responses":
		if len(ctx.QueryArgs().Peek("api-version")) == 0 {
			writeAzureNotFound(ctx)
			return
		}
		ep = epResponses
	case post && path == "/openai/v1/chat/completions":
		ep = epChat
	case post && path == "/openai/v1/completions":
		ep = epCompletions
	case post && path == "/openai/v1/embeddings":
		ep = epEmbeddings
	case post && path == "/openai/v1/responses":
		ep = epResponses
	case ctx.IsGet() && (path == "/openai/v1/models" || strings.HasPrefix(path, "/openai/v1/models/")):
		if !s.checkAzureKey(ctx) {
			return
		}
		s.serveModels(ctx, strings.TrimPrefix(strings.TrimPrefix(path, "/openai/v1/models"), "/"), styleAzure)
		return
	default:
		writeAzureNotFound(ctx)
		return
	}
	s.record(ctx)
	if !s.checkAzureKey(ctx) {
		return
	}
	if dep != "" && !s.serves(dep) {
		s.writeError(ctx, styleAzure, apiErr{kind: errModelNotFound, status: 404, model: dep})
		return
	}
	f, ok := s.admit(ctx)
	if !ok {
		return
	}
	if hasFaultStatus(f) && !(f.ResetAfterChunks > 0 && isStreamBody(ctx.PostBody())) {
		s.writeError(ctx, styleAzure, apiErr{kind: errFault, fault: f})
		return
	}
	if ep == epResponses && rejectsStoreFalse(ctx.PostBody()) {
		// Azure's Responses API refuses store:false (codex-rs core/src/client.rs documents it and
		// sends store:true to Azure); the mock does the same, so the adapter's fix is tested.
		s.writeError(ctx, styleAzure, apiErr{kind: errBadRequest, status: 400, param: "store",
			msg: "store=false is not supported for this resource; set store to true."})
		return
	}
	s.serveOpenAIShaped(ctx, styleAzure, ep, dep, dep == "", f)
}

// rejectsStoreFalse reports whether a Responses body sets store to false.
func rejectsStoreFalse(body []byte) bool {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	return err == nil && v.Get("store") != nil && v.Get("store").Type() == fastjson.TypeFalse
}

func setAzureHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	id := uuid4()
	h.Set("apim-request-id", id)
	h.Set("x-request-id", id)
	if c := ctx.Request.Header.Peek("x-ms-client-request-id"); len(c) > 0 {
		h.SetBytesV("x-ms-client-request-id", c)
	} else {
		h.Set("x-ms-client-request-id", id)
	}
	h.Set("x-ms-region", "East US")
	h.Set("azureml-model-session", "d031-20250101000000")
	h.Set("x-ratelimit-remaining-requests", "9999")
	h.Set("x-ratelimit-remaining-tokens", "999000")
	h.Set("x-content-type-options", "nosniff")
	h.Set("strict-transport-security", "max-age=31536000; includeSubDomains; preload")
}

// checkAzureKey accepts `api-key: <key>` on both path forms and `Authorization: Bearer <key>`
// (how OpenAI-SDK clients send it on /openai/v1, and the Entra form on classic paths).
func (s *Server) checkAzureKey(ctx *fasthttp.RequestCtx) bool {
	k := string(ctx.Request.Header.Peek("api-key"))
	if k == "" {
		k = bearer(ctx)
	}
	if k != s.opts.APIKey {
		s.writeError(ctx, styleAzure, apiErr{kind: errAuthInvalid, status: 401})
		return false
	}
	return true
}

func writeAzureNotFound(ctx *fasthttp.RequestCtx) {
	writeAzureCodeError(ctx, 404, "404", "Resource not found")
}

// writeAzureCodeError writes Azure's {"error":{"code","message"}} envelope.
func writeAzureCodeError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	b := append([]byte(nil), `{"error":{"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, "}}"...)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// azureContentFilterBody is the 400 prompt rejection of §2.4.
const azureContentFilterBody = `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}}`

func writeAzureError(ctx *fasthttp.RequestCtx, e apiErr) {
	switch e.kind {
	case errAuthMissing, errAuthInvalid:
		writeAzureCodeError(ctx, 401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
	case errBadRequest:
		writeOpenAIError(ctx, 400, e.msg, "invalid_request_error", e.param, e.code)
	case errModelNotFound:
		writeAzureCodeError(ctx, 404, "DeploymentNotFound", azureDeploymentNotFound)
	case errFault:
		f := e.fault
		status := faultStatus(f)
		switch {
		case f.Code == "content_filter":
			ctx.SetStatusCode(400)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(azureContentFilterBody)
		case status == 429:
			secs := int64(1)
			if f.RetryAfter > 0 {
				secs = retrySeconds(f.RetryAfter)
				ctx.Response.Header.Set("retry-after", strconv.FormatInt(secs, 10))
				ctx.Response.Header.Set("retry-after-ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
			}
			ctx.Response.Header.Set("policy-id", "DeploymentRatelimit-Token")
			writeAzureCodeError(ctx, 429, "429", "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after "+strconv.FormatInt(secs, 10)+" seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.")
		case status >= 500:
			if f.RetryAfter > 0 {
				ctx.Response.Header.Set("retry-after", strconv.FormatInt(retrySeconds(f.RetryAfter), 10))
				ctx.Response.Header.Set("retry-after-ms", strconv.FormatInt(f.RetryAfter.Milliseconds(), 10))
			}
			code := f.Code
			if code == "" {
				code = strconv.Itoa(status)
			}
			writeAzureCodeError(ctx, status, code, "The server had an error while processing your request. Sorry about that!")
		default:
			code := f.Code
			if code == "" {
				code = strconv.Itoa(status)
			}
			writeAzureCodeError(ctx, status, code, "The request could not be processed.")
		}
	}
}
