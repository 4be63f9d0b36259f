package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzHandle sends arbitrary methods, paths, tokens and bodies through the
// handler: it never panics, and every /admin/ answer is a JSON body with a
// status the API uses.
func FuzzHandle(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "/admin/upstreams", "Bearer tok", ""},
		{"POST", "/admin/keys", "Bearer tok", `{"tenant":"acme","models":["m"]}`},
		{"POST", "/admin/keys", "Bearer tok", `{"tenant":`},
		{"POST", "/admin/keys/k1/rotate", "Bearer tok", ""},
		{"POST", "/admin/keys//revoke", "Bearer tok", ""},
		{"POST", "/admin/cache/purge?tenant=%00&model=\"", "Bearer tok", ""},
		{"GET", "/admin/traffic", "bearer tok", ""},
		{"DELETE", "/admin/reload", "Bearer tok", ""},
		{"GET", "/admin/upstreams", "Bearer tok\x00", ""},
		{"GET", "/dashboard/../../etc/passwd", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	src := &fixedSource{rows: []Traffic{{Tenant: "acme", Upstream: "u", Requests: 1}}}
	s := &Server{opts: Options{Source: src, Keys: nil, Reload: nil}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.tokenSum = sumToken("tok")
	s.sampler = &sampler{src: src, ring: make([]sample, 4)}
	s.sampler.take(timeZero)
	valid := map[int]bool{200: true, 201: true, 302: true, 400: true, 401: true, 404: true, 405: true, 409: true, 422: true, 500: true, 501: true}
	f.Fuzz(func(t *testing.T, method, uri, auth, body string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(uri)
		ctx.Request.Header.Set("Authorization", auth)
		ctx.Request.SetBodyString(body)
		s.handle(&ctx)
		st := ctx.Response.StatusCode()
		if !valid[st] {
			t.Fatalf("%s %q: status %d", method, uri, st)
		}
		if strings.HasPrefix(string(ctx.Path()), "/admin/") && !json.Valid(ctx.Response.Body()) {
			t.Fatalf("%s %q: not JSON: %q", method, uri, ctx.Response.Body())
		}
	})
}
