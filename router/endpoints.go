package router

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

var hdrRequestID = []byte("X-Request-Id")

// serve is a generation's handler: it names the request, dispatches by path,
// and writes the access log line.
func (g *Generation) serve(ctx *fasthttp.RequestCtx, stripe int) {
	// x-request-id ties a client's report to the access log. fasthttp's
	// request ID is unique in the process; the random prefix tells processes
	// (and restarts) apart. No shared counter, no allocation.
	var id [32]byte
	ctx.Response.Header.SetCanonical(hdrRequestID, strconv.AppendUint(append(id[:0], g.in.idPrefix...), ctx.ID(), 16))
	if g.cfg.Log.Access {
		defer g.accessLog(ctx, time.Now())
	}
	g.dispatch(ctx, stripe)
}

// accessLog writes one line per request: what was asked of whom and how it
// went — never the body, a prompt, a completion or a key, and the route
// rather than the raw path (a path can carry client text). For streams the
// duration is the time until the stream started.
func (g *Generation) accessLog(ctx *fasthttp.RequestCtx, start time.Time) {
	h := &ctx.Response.Header
	g.in.log.Info("request", "id", string(h.PeekBytes(hdrRequestID)),
		"method", string(ctx.Method()), "route", route(ctx.Path()), "status", ctx.Response.StatusCode(),
		"upstream", string(h.Peek("x-switchyard-upstream")), "cache", string(h.Peek(hdrCache)),
		"duration", time.Since(start), "remote", ctx.RemoteIP().String())
}

// route names the endpoint a path was served by, with no client text in it.
func route(path []byte) string {
	switch p := string(path); {
	case p == "/v1/chat/completions", p == "/v1/completions", p == "/v1/embeddings", p == "/v1/responses",
		p == "/v1/models", p == "/healthz", p == "/readyz", p == "/metrics":
		return p
	case hasPrefix(path, "/v1/models/"):
		return "/v1/models/{id}"
	}
	return "{unknown}"
}

func hasPrefix(b []byte, p string) bool { return len(b) > len(p) && string(b[:len(p)]) == p }

func (g *Generation) dispatch(ctx *fasthttp.RequestCtx, stripe int) {
	path := ctx.Path()
	switch string(path) {
	case "/v1/chat/completions":
		g.api(ctx, provider.ChatCompletions, stripe)
	case "/v1/completions":
		g.api(ctx, provider.Completions, stripe)
	case "/v1/embeddings":
		g.api(ctx, provider.Embeddings, stripe)
	case "/v1/responses":
		g.api(ctx, provider.Responses, stripe)
	case "/v1/models":
		if onlyGet(ctx) {
			if t, _ := g.identify(ctx); t != nil {
				ctx.SetContentType("application/json")
				ctx.SetBody(g.models)
			}
		}
	case "/healthz":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	case "/readyz":
		g.readyz(ctx)
	case "/metrics":
		g.in.tel.MetricsHandler()(ctx)
	default:
		switch {
		case hasPrefix(path, "/v1/models/"):
			if onlyGet(ctx) {
				if t, _ := g.identify(ctx); t != nil {
					g.model(ctx, path[len("/v1/models/"):])
				}
			}
		default:
			writeError(ctx, errUnknownURL.With("Unknown request URL: "+string(ctx.Method())+" "+string(path)+".", ""))
		}
	}
}

func onlyGet(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	ctx.Response.Header.Set("Allow", "GET, HEAD")
	writeError(ctx, errMethodGET)
	return false
}

func (g *Generation) model(ctx *fasthttp.RequestCtx, id []byte) {
	if b, ok := g.modelIx[string(id)]; ok {
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
		return
	}
	writeError(ctx, errModelNotFound.With("The model '"+string(id)+"' does not exist or you do not have access to it.", ""))
}

func (g *Generation) readyz(ctx *fasthttp.RequestCtx) {
	var problems []string
	healthy := 0
	for _, u := range g.ups.All {
		if err := u.Adapter.Ready(); err != nil {
			problems = append(problems, "upstream "+u.Name+": "+err.Error())
			continue
		}
		healthy++
	}
	if healthy == 0 {
		problems = append(problems, "no upstream can authenticate")
	}
	if p := g.in.wiring.Plugins; p != nil && g.chains != nil {
		if err := p.Healthy(); err != nil {
			problems = append(problems, "plugins: "+err.Error())
		}
	}
	ctx.SetContentType("application/json")
	b := []byte(`{"status":`)
	if len(problems) == 0 && !g.in.closed.Load() {
		lim, ld := &g.cfg.Limits, &g.in.load
		if !ld.busy(lim.MaxStreams, lim.MaxInFlight) {
			ctx.SetBody(append(b, `"ready"}`...))
			return
		}
		// At a PoP-wide bound: a load balancer sends new clients elsewhere
		// until streams end. The counts say which bound is reached.
		ctx.SetStatusCode(503)
		b = append(b, `"busy","streams":`...)
		b = strconv.AppendInt(b, ld.streams.Load(), 10)
		b = append(b, `,"max_streams":`...)
		b = strconv.AppendInt(b, lim.MaxStreams, 10)
		b = append(b, `,"in_flight":`...)
		b = strconv.AppendInt(b, ld.inFlight.Load(), 10)
		b = append(b, `,"max_in_flight":`...)
		b = strconv.AppendInt(b, lim.MaxInFlight, 10)
		ctx.SetBody(append(b, '}'))
		return
	}
	ctx.SetStatusCode(503)
	b = append(b, `"not_ready","problems":[`...)
	for i, p := range problems {
		if i > 0 {
			b = append(b, ',')
		}
		b = openai.AppendJSONString(b, []byte(p))
	}
	ctx.SetBody(append(b, "]}"...))
}
