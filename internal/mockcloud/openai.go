package mockcloud

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// This file is the OpenAI cloud (§1): routing, Bearer auth, headers, and the non-chat endpoints
// (legacy completions, embeddings, Responses, models) that Azure's v1 surface reuses.

// endpoint names what a model request asks for.
type endpoint uint8

const (
	epChat endpoint = iota
	epCompletions
	epEmbeddings
	epResponses
)

func (s *Server) handleOpenAI(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	setOpenAIHeaders(ctx, start)
	path := string(ctx.Path())
	post := ctx.IsPost()
	var ep endpoint
	switch {
	case post && path == "/v1/chat/completions":
		ep = epChat
	case post && path == "/v1/completions":
		ep = epCompletions
	case post && path == "/v1/embeddings":
		ep = epEmbeddings
	case post && path == "/v1/responses":
		ep = epResponses
	case ctx.IsGet() && (path == "/v1/models" || strings.HasPrefix(path, "/v1/models/")):
		if !s.checkBearer(ctx, styleOpenAI) {
			return
		}
		s.serveModels(ctx, strings.TrimPrefix(strings.TrimPrefix(path, "/v1/models"), "/"), styleOpenAI)
		return
	default:
		writeOpenAIError(ctx, 404, "Invalid URL ("+string(ctx.Method())+" "+path+")", "invalid_request_error", "", "")
		return
	}
	s.record(ctx)
	if !s.checkBearer(ctx, styleOpenAI) {
		return
	}
	f, ok := s.admit(ctx)
	if !ok {
		return
	}
	if hasFaultStatus(f) && !(f.ResetAfterChunks > 0 && isStreamBody(ctx.PostBody())) {
		s.writeError(ctx, styleOpenAI, apiErr{kind: errFault, fault: f})
		return
	}
	s.serveOpenAIShaped(ctx, styleOpenAI, ep, "", true, f)
	ctx.Response.Header.Set("openai-processing-ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
}

// isStreamBody reports whether a request body asks for a stream, so a fault with both a status
// and ResetAfterChunks is delivered in-stream rather than as an HTTP error.
func isStreamBody(body []byte) bool {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	return err == nil && v.GetBool("stream")
}

// serveOpenAIShaped parses and answers one OpenAI-shaped model request. model, when set, is the
// deployment that replaces the body's model (Azure's classic path); requireModel is false there.
func (s *Server) serveOpenAIShaped(ctx *fasthttp.RequestCtx, st style, ep endpoint, model string, requireModel bool, f Fault) {
	var (
		r   *genReq
		err error
	)
	body := ctx.PostBody()
	switch ep {
	case epChat:
		r, err = parseChat(body, requireModel)
	case epCompletions:
		r, err = parseCompletion(body, requireModel)
	case epEmbeddings:
		r, err = parseEmbeddings(body, requireModel)
	case epResponses:
		r, err = parseResponses(body)
	}
	if err != nil {
		re := err.(*reqError)
		s.writeError(ctx, st, apiErr{kind: errBadRequest, status: 400, param: re.param, msg: re.msg})
		return
	}
	if model == "" {
		model = r.model
		if !s.serves(model) {
			s.writeError(ctx, st, apiErr{kind: errModelNotFound, status: 404, model: model})
			return
		}
	}
	switch ep {
	case epChat:
		s.serveChat(ctx, st, r, model, f)
	case epCompletions:
		s.serveCompletion(ctx, st, r, model, f)
	case epEmbeddings:
		serveEmbeddings(ctx, r, model)
	case epResponses:
		s.serveResponses(ctx, r, model, f)
	}
}

func setOpenAIHeaders(ctx *fasthttp.RequestCtx, start time.Time) {
	h := &ctx.Response.Header
	h.Set("x-request-id", requestID())
	h.Set("openai-version", "2020-10-01")
	h.Set("openai-organization", "user-mockcloud")
	h.Set("openai-processing-ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	h.Set("x-ratelimit-limit-requests", "10000")
	h.Set("x-ratelimit-limit-tokens", "30000000")
	h.Set("x-ratelimit-remaining-requests", "9999")
	h.Set("x-ratelimit-remaining-tokens", "29999000")
	h.Set("x-ratelimit-reset-requests", "6ms")
	h.Set("x-ratelimit-reset-tokens", "2ms")
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(ctx *fasthttp.RequestCtx) string {
	a := ctx.Request.Header.Peek("Authorization")
	if len(a) > 7 && strings.EqualFold(string(a[:7]), "bearer ") {
		return strings.TrimSpace(string(a[7:]))
	}
	return ""
}

// checkBearer enforces OpenAI's Bearer API key; it writes the 401 and reports false on failure.
func (s *Server) checkBearer(ctx *fasthttp.RequestCtx, st style) bool {
	k := bearer(ctx)
	switch {
	case k == "":
		s.writeError(ctx, st, apiErr{kind: errAuthMissing, status: 401})
		return false
	case k != s.opts.APIKey:
		s.writeError(ctx, st, apiErr{kind: errAuthInvalid, status: 401, key: k})
		return false
	}
	return true
}

// serveModels answers GET /v1/models and /v1/models/{id}.
func (s *Server) serveModels(ctx *fasthttp.RequestCtx, id string, st style) {
	models := s.opts.Models
	if len(models) == 0 {
		models = []string{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}
	}
	appendModel := func(b []byte, m string) []byte {
		b = append(b, `{"id":`...)
		b = appendJSONString(b, m)
		return append(b, `,"object":"model","created":1686935002,"owned_by":"system"}`...)
	}
	ctx.SetContentType("application/json")
	if id != "" {
		if !s.serves(id) {
			s.writeError(ctx, st, apiErr{kind: errModelNotFound, status: 404, model: id})
			return
		}
		ctx.SetBody(appendModel(nil, id))
		return
	}
	b := append([]byte(nil), `{"object":"list","data":[`...)
	for i, m := range models {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendModel(b, m)
	}
	ctx.SetBody(append(b, "]}"...))
}

// serveCompletion answers the legacy text_completion endpoint.
func (s *Server) serveCompletion(ctx *fasthttp.RequestCtx, st style, r *genReq, model string, f Fault) {
	a := s.makeAnswer(r)
	id := cmplID()
	created := time.Now().Unix()
	head := func(b []byte) []byte {
		b = append(b, `{"id":`...)
		b = appendJSONString(b, id)
		b = append(b, `,"object":"text_completion","created":`...)
		b = appendInt(b, created)
		b = append(b, `,"model":`...)
		b = appendJSONString(b, model)
		return append(b, `,"system_fingerprint":"`+fingerprint+`",`...)
	}
	prompt := estimateTokens(r.promptChars)
	if !r.stream {
		b := head(make([]byte, 0, 512))
		b = append(b, `"choices":[{"text":`...)
		b = appendJSONString(b, a.text)
		b = append(b, `,"index":0,"logprobs":null,"finish_reason":`...)
		b = appendJSONString(b, a.finish)
		b = append(b, `}],"usage":`...)
		b = appendUsage(b, styleAzure, prompt, a.completionTokens()) // plain usage, no details
		ctx.SetContentType("application/json")
		ctx.SetBody(append(b, '}'))
		return
	}
	setSSE(ctx)
	s.stream(ctx, f, sseErrorEvent(f), func(sw *streamer) {
		b := make([]byte, 0, 512)
		event := func(text, finish string) []byte {
			b = append(b[:0], "data: "...)
			b = head(b)
			b = append(b, `"choices":[{"text":`...)
			b = appendJSONString(b, text)
			b = append(b, `,"index":0,"logprobs":null,"finish_reason":`...)
			b = appendNullable(b, finish)
			b = append(b, "}]"...)
			if r.includeUsage {
				b = append(b, `,"usage":null`...)
			}
			return append(b, "}\n\n"...)
		}
		for _, p := range a.pieces {
			if !sw.emit(event(p, "")) {
				return
			}
		}
		if !sw.emit(event("", a.finish)) {
			return
		}
		if r.includeUsage {
			b = append(b[:0], "data: "...)
			b = head(b)
			b = append(b, `"choices":[],"usage":`...)
			b = appendUsage(b, styleAzure, prompt, a.completionTokens())
			if !sw.emit(append(b, "}\n\n"...)) {
				return
			}
		}
		sw.emit(append(b[:0], "data: [DONE]\n\n"...))
	})
}

// embedding returns a deterministic unit vector for text: the same text always maps to the same
// vector, different texts to (almost surely) different ones, so cache and round-trip tests can
// compare results.
func embedding(text string, dims int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		x := rng.NormFloat64()
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

func embeddingDims(model string, asked int) int {
	if asked > 0 {
		return asked
	}
	if strings.Contains(model, "large") {
		return 3072
	}
	return 1536
}

// serveEmbeddings answers /v1/embeddings in float or base64 encoding (§1.8).
func serveEmbeddings(ctx *fasthttp.RequestCtx, r *genReq, model string) {
	dims := embeddingDims(model, r.dims)
	b := make([]byte, 0, 64+len(r.inputs)*dims*12)
	b = append(b, `{"object":"list","data":[`...)
	var raw []byte
	for i, in := range r.inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = appendInt(b, int64(i))
		b = append(b, `,"embedding":`...)
		vec := embedding(in, dims)
		if r.base64 {
			raw = raw[:0]
			for _, x := range vec {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(x))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = append(b, '[')
			for j, x := range vec {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = appendJSONString(b, model)
	tokens := int64(estimateTokens(r.promptChars))
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = appendInt(b, tokens)
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, tokens)
	b = append(b, "}}"...)
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
