package router

import (
	"crypto/subtle"

	"github.com/valyala/fasthttp"
)

// admin serves /admin/*: today, POST /admin/cache/purge[?tenant=T][&model=M]
// (no parameters: everything). It is off unless admin.token is set, and every
// call must carry "Authorization: Bearer <admin.token>".
func (s *Server) admin(ctx *fasthttp.RequestCtx) {
	token := s.cfg.Admin.Token
	if token == "" {
		writeError(ctx, 404, "Unknown request URL: the admin API is disabled (set admin.token).", "invalid_request_error", "", "unknown_url")
		return
	}
	got := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	want := "Bearer " + token
	if subtle.ConstantTimeCompare(got, []byte(want)) != 1 {
		writeError(ctx, 401, "Invalid admin token.", "invalid_request_error", "", "invalid_api_key")
		return
	}
	switch string(ctx.Path()) {
	case "/admin/cache/purge":
		if !ctx.IsPost() {
			ctx.Response.Header.Set("Allow", "POST")
			writeError(ctx, 405, "Method not allowed: use POST.", "invalid_request_error", "", "method_not_allowed")
			return
		}
		if s.cache == nil {
			writeError(ctx, 409, "Caching is off.", "invalid_request_error", "", "cache_disabled")
			return
		}
		args := ctx.QueryArgs()
		tenant, model := string(args.Peek("tenant")), string(args.Peek("model"))
		s.cache.Purge(tenant, model)
		s.log.Info("cache purged", "tenant", tenant, "model", model)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"purged":true}`)
	default:
		writeError(ctx, 404, "Unknown admin URL.", "invalid_request_error", "", "unknown_url")
	}
}
