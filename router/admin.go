package router

import (
	"crypto/subtle"

	"github.com/switchyard-dev/switchyard/router/openai"

	"github.com/valyala/fasthttp"
)

// admin serves /admin/*: today, POST /admin/cache/purge[?tenant=T][&model=M]
// (no parameters: everything). It is off unless admin.token is set, and every
// call must carry "Authorization: Bearer <admin.token>".
func (g *Generation) admin(ctx *fasthttp.RequestCtx) {
	token := g.cfg.Admin.Token
	if token == "" {
		writeError(ctx, errUnknownURL.With("Unknown request URL: the admin API is disabled (set admin.token).", ""))
		return
	}
	got := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	want := "Bearer " + token
	if subtle.ConstantTimeCompare(got, []byte(want)) != 1 {
		writeError(ctx, errBadKey.With("Invalid admin token.", ""))
		return
	}
	switch string(ctx.Path()) {
	case "/admin/cache/purge":
		if !ctx.IsPost() {
			ctx.Response.Header.Set("Allow", "POST")
			writeError(ctx, errMethodPOST)
			return
		}
		if g.cache == nil {
			writeError(ctx, errCacheOff)
			return
		}
		args := ctx.QueryArgs()
		tenant, model := string(args.Peek("tenant")), string(args.Peek("model"))
		g.cache.Purge(tenant, model)
		g.in.log.Info("cache purged", "tenant", tenant, "model", model)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"purged":true}`)
	default:
		writeError(ctx, errUnknownURL.With("Unknown admin URL.", ""))
	}
}

var errCacheOff = &openai.APIError{Status: 409, Code: "cache_disabled", Message: "Caching is off."}
