package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// handle dispatches: /admin/* is the token-protected API, /dashboard/* the
// static page, / redirects to it.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case path == "/":
		ctx.Redirect("/dashboard/", fasthttp.StatusFound)
	case path == "/metrics" && s.opts.Metrics != nil:
		if onlyGet(ctx) {
			s.opts.Metrics(ctx)
		}
	case path == "/dashboard" || strings.HasPrefix(path, "/dashboard/"):
		serveAsset(ctx, strings.TrimPrefix(strings.TrimPrefix(path, "/dashboard"), "/"))
	case strings.HasPrefix(path, "/admin/"):
		if !s.authorized(ctx) {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="switchyard-admin"`)
			writeError(ctx, 401, "Invalid or missing admin token: send Authorization: Bearer <admin.token>.", "invalid_request_error", "invalid_api_key")
			return
		}
		s.api(ctx, path[len("/admin/"):])
	default:
		writeError(ctx, 404, "Unknown URL: "+path+".", "invalid_request_error", "unknown_url")
	}
}

// authorized compares the bearer token in constant time. Why hash both
// sides first? subtle.ConstantTimeCompare returns at once when the lengths
// differ, which tells an attacker the token's length; comparing SHA-256
// sums always compares 32 bytes.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const bearer = "Bearer "
	if len(auth) <= len(bearer) || !strings.EqualFold(string(auth[:len(bearer)]), bearer) {
		return false
	}
	got := sha256.Sum256(auth[len(bearer):])
	return subtle.ConstantTimeCompare(got[:], s.tokenSum[:]) == 1
}

func (s *Server) api(ctx *fasthttp.RequestCtx, route string) {
	src := s.opts.Source
	switch route {
	case "upstreams":
		if onlyGet(ctx) {
			writeList(ctx, src.Upstreams(nil))
		}
	case "plugins":
		if onlyGet(ctx) {
			writeList(ctx, src.Plugins(nil))
		}
	case "cache":
		if onlyGet(ctx) {
			cs, ok := src.Cache()
			writeJSON(ctx, 200, cacheView{Enabled: ok, CacheStats: cs, HitRatio: cs.HitRatio()})
		}
	case "cache/purge":
		if !onlyPost(ctx) {
			return
		}
		tenant, model := string(ctx.QueryArgs().Peek("tenant")), string(ctx.QueryArgs().Peek("model"))
		if err := src.PurgeCache(tenant, model); err != nil {
			if errors.Is(err, ErrCacheOff) {
				writeError(ctx, 409, "Caching is off.", "invalid_request_error", "cache_disabled")
				return
			}
			s.fail(ctx, err)
			return
		}
		s.log.Info("admin: cache purged", "tenant", tenant, "model", model)
		writeJSON(ctx, 200, map[string]any{"purged": true, "tenant": tenant, "model": model})
	case "config":
		if onlyGet(ctx) {
			body, ct := src.Config()
			if ct == "" {
				ct = "application/json"
			}
			ctx.SetContentType(ct)
			ctx.SetBody(body)
		}
	case "reload":
		if !onlyPost(ctx) {
			return
		}
		if s.opts.Reload == nil {
			writeError(ctx, 501, "Reload is not available in this process.", "invalid_request_error", "not_implemented")
			return
		}
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.opts.Reload(rctx); err != nil {
			s.log.Warn("admin: reload refused", "err", err)
			writeError(ctx, 422, "Reload refused; the running config keeps serving: "+err.Error(), "invalid_request_error", "reload_failed")
			return
		}
		s.log.Info("admin: config reloaded")
		writeJSON(ctx, 200, map[string]bool{"reloaded": true})
	case "traffic":
		if onlyGet(ctx) {
			writeJSON(ctx, 200, s.sampler.series())
		}
	case "tenants":
		if ks := s.keys(ctx); ks != nil && onlyGet(ctx) {
			ts, err := ks.Tenants()
			if err != nil {
				s.fail(ctx, err)
				return
			}
			writeList(ctx, ts)
		}
	case "keys":
		ks := s.keys(ctx)
		if ks == nil {
			return
		}
		switch {
		case ctx.IsGet():
			keys, err := ks.Keys(string(ctx.QueryArgs().Peek("tenant")))
			if err != nil {
				s.fail(ctx, err)
				return
			}
			writeList(ctx, keys)
		case ctx.IsPost():
			var spec KeySpec
			if err := json.Unmarshal(ctx.PostBody(), &spec); err != nil {
				writeError(ctx, 400, "The body must be a JSON key spec: "+err.Error(), "invalid_request_error", "invalid_json")
				return
			}
			if spec.Tenant == "" {
				writeError(ctx, 400, "tenant is required.", "invalid_request_error", "missing_tenant")
				return
			}
			k, secret, err := ks.CreateKey(spec)
			if err != nil {
				s.fail(ctx, err)
				return
			}
			s.log.Info("admin: key created", "tenant", k.Tenant, "id", k.ID)
			writeJSON(ctx, 201, keyWithSecret{k, secret})
		default:
			ctx.Response.Header.Set("Allow", "GET, POST")
			writeError(ctx, 405, "Method not allowed: use GET or POST.", "invalid_request_error", "method_not_allowed")
		}
	default:
		id, action, ok := strings.Cut(strings.TrimPrefix(route, "keys/"), "/")
		if !strings.HasPrefix(route, "keys/") || !ok || id == "" || (action != "revoke" && action != "rotate") {
			writeError(ctx, 404, "Unknown admin URL: /admin/"+route+".", "invalid_request_error", "unknown_url")
			return
		}
		ks := s.keys(ctx)
		if ks == nil || !onlyPost(ctx) {
			return
		}
		if action == "revoke" {
			if err := ks.RevokeKey(id); err != nil {
				s.fail(ctx, err)
				return
			}
			s.log.Info("admin: key revoked", "id", id)
			writeJSON(ctx, 200, map[string]any{"id": id, "revoked": true})
			return
		}
		k, secret, err := ks.RotateKey(id)
		if err != nil {
			s.fail(ctx, err)
			return
		}
		s.log.Info("admin: key rotated", "tenant", k.Tenant, "id", k.ID)
		writeJSON(ctx, 200, keyWithSecret{k, secret})
	}
}

type cacheView struct {
	Enabled bool `json:"enabled"`
	CacheStats
	HitRatio float64 `json:"hit_ratio"`
}

// keyWithSecret is the one answer that carries a key's secret.
type keyWithSecret struct {
	Key
	Secret string `json:"secret"`
}

func (s *Server) keys(ctx *fasthttp.RequestCtx) KeyStore {
	if s.opts.Keys == nil {
		writeError(ctx, 501, "Key management is not available in this process.", "invalid_request_error", "not_implemented")
	}
	return s.opts.Keys
}

// fail answers a Source or KeyStore error: its message for ErrNotFound
// and ErrInvalid (the store wrote it for the caller), a generic one
// otherwise (it may hold internals).
func (s *Server) fail(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(ctx, 404, err.Error(), "invalid_request_error", "not_found")
	case errors.Is(err, ErrInvalid):
		writeError(ctx, 400, err.Error(), "invalid_request_error", "invalid_request")
	default:
		s.log.Error("admin: call failed", "path", string(ctx.Path()), "err", err)
		writeError(ctx, 500, "The admin call failed; see the PoP's log.", "server_error", "internal_error")
	}
}

func onlyGet(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	ctx.Response.Header.Set("Allow", "GET, HEAD")
	writeError(ctx, 405, "Method not allowed: use GET.", "invalid_request_error", "method_not_allowed")
	return false
}

func onlyPost(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsPost() {
		return true
	}
	ctx.Response.Header.Set("Allow", "POST")
	writeError(ctx, 405, "Method not allowed: use POST.", "invalid_request_error", "method_not_allowed")
	return false
}

func writeList[T any](ctx *fasthttp.RequestCtx, data []T) {
	if data == nil {
		data = []T{}
	}
	writeJSON(ctx, 200, struct {
		Object string `json:"object"`
		Data   []T    `json:"data"`
	}{"list", data})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(ctx, 500, "Could not encode the answer.", "server_error", "internal_error")
		return
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(b)
}

// writeError answers with OpenAI's error shape.
func writeError(ctx *fasthttp.RequestCtx, status int, msg, typ, code string) {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	}
	b, _ := json.Marshal(struct {
		Error body `json:"error"`
	}{body{msg, typ, nil, code}})
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(b)
}
