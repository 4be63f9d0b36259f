package admin

import (
	"embed"
	"path"

	"github.com/valyala/fasthttp"
)

// dashboard holds the page, its script and its style sheet, built into the
// binary: no CDN, no external fetch, nothing to install.
//
//go:embed dashboard/index.html dashboard/app.js dashboard/style.css
var dashboard embed.FS

var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

func serveAsset(ctx *fasthttp.RequestCtx, name string) {
	if name == "" {
		name = "index.html"
	}
	b, err := dashboard.ReadFile("dashboard/" + name)
	if err != nil {
		writeError(ctx, 404, "Unknown dashboard file: "+name+".", "invalid_request_error", "unknown_url")
		return
	}
	ctx.SetContentType(assetTypes[path.Ext(name)])
	// The page holds no data; its script fetches /admin/* with the token.
	// The CSP keeps the page from loading anything off this listener.
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(b)
}
