package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/admin"
	"github.com/switchyard-dev/switchyard/router/telemetry"
)

func TestAuth(t *testing.T) {
	s := start(t, admin.Config{}, admin.Options{Source: newSource(t)})
	addr := s.Addr().String()
	for name, auth := range map[string]string{
		"none":           "",
		"wrong":          "Bearer adm-0123456789abcdeX",
		"shorter":        "Bearer adm",
		"longer":         "Bearer " + token + "x",
		"not bearer":     "Basic " + token,
		"bearer, empty":  "Bearer ",
		"token, no type": token,
	} {
		a := call(t, addr, "GET", "/admin/upstreams", auth, "")
		if a.status != 401 || a.ctype != "application/json" || string(a.header.Peek("WWW-Authenticate")) == "" {
			t.Fatalf("%s: %d %s %q", name, a.status, a.ctype, a.body)
		}
		var e struct {
			Error struct {
				Message, Type, Code string
				Param               *string
			}
		}
		if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error.Type != "invalid_request_error" || e.Error.Code != "invalid_api_key" || e.Error.Message == "" {
			t.Fatalf("%s: body %q", name, a.body)
		}
		if !strings.Contains(a.body, `"param":null`) {
			t.Fatalf("%s: no param in %q", name, a.body)
		}
	}
	if a := call(t, addr, "GET", "/admin/upstreams", "bearer "+token, ""); a.status != 200 {
		t.Fatalf("lower-case scheme: %d %s", a.status, a.body)
	}
	// The page itself holds no data and loads without the token.
	if a := call(t, addr, "GET", "/dashboard/", "", ""); a.status != 200 || !strings.HasPrefix(a.ctype, "text/html") {
		t.Fatalf("dashboard: %d %s", a.status, a.ctype)
	}
}

func TestAPI(t *testing.T) {
	src := newSource(t)
	reloads := 0
	s := start(t, admin.Config{}, admin.Options{Source: src, Keys: &memKeys{}, Reload: func(context.Context) error {
		reloads++
		if reloads == 2 {
			return errors.New("upstreams[0].base_url: expected an https URL")
		}
		return nil
	}})
	addr, auth := s.Addr().String(), "Bearer "+token

	a := call(t, addr, "GET", "/admin/upstreams", auth, "")
	var ups struct {
		Object string
		Data   []admin.Upstream
	}
	if err := json.Unmarshal([]byte(a.body), &ups); err != nil || ups.Object != "list" || len(ups.Data) != 2 || ups.Data[1].Breaker != "open" || ups.Data[0].InFlight != 2 {
		t.Fatalf("upstreams: %v %s", err, a.body)
	}
	contains(t, call(t, addr, "GET", "/admin/plugins", auth, ""), `"module":"sha256:9f86d081884c7d65"`, `"failures":2`, `"pool_size":4`)
	src.mu.Lock()
	src.cs.Hits, src.cs.Misses, src.cs.Coalesced = 6, 2, 2
	src.mu.Unlock()
	contains(t, call(t, addr, "GET", "/admin/cache", auth, ""), `"enabled":true`, `"entries":12`, `"hit_ratio":0.8`)

	if a := call(t, addr, "GET", "/admin/cache/purge", auth, ""); a.status != 405 || string(a.header.Peek("Allow")) != "POST" {
		t.Fatalf("GET purge: %d", a.status)
	}
	contains(t, call(t, addr, "POST", "/admin/cache/purge?tenant=acme&model=gpt-5.5", auth, ""), `"purged":true`)
	if len(src.pur) != 1 || src.pur[0] != "acme/gpt-5.5" {
		t.Fatalf("purges %v", src.pur)
	}

	a = call(t, addr, "GET", "/admin/config", auth, "")
	if a.status != 200 || a.ctype != "application/yaml" || !strings.Contains(a.body, "'***'") {
		t.Fatalf("config: %d %s %q", a.status, a.ctype, a.body)
	}

	contains(t, call(t, addr, "POST", "/admin/reload", auth, ""), `"reloaded":true`)
	a = call(t, addr, "POST", "/admin/reload", auth, "")
	if a.status != 422 || !strings.Contains(a.body, "expected an https URL") || !strings.Contains(a.body, `"code":"reload_failed"`) {
		t.Fatalf("failed reload: %d %s", a.status, a.body)
	}
	if a := call(t, addr, "GET", "/admin/reload", auth, ""); a.status != 405 || reloads != 2 {
		t.Fatalf("GET reload: %d, reloads %d", a.status, reloads)
	}
	if a := call(t, addr, "GET", "/admin/nope", auth, ""); a.status != 404 {
		t.Fatalf("unknown: %d", a.status)
	}
	if a := call(t, addr, "GET", "/elsewhere", "", ""); a.status != 404 {
		t.Fatalf("unknown outside /admin: %d", a.status)
	}
	if a := call(t, addr, "GET", "/", "", ""); a.status != 302 || !strings.HasSuffix(string(a.header.Peek("Location")), "/dashboard/") {
		t.Fatalf("root: %d %s", a.status, a.header.Peek("Location"))
	}
}

func TestKeys(t *testing.T) {
	s := start(t, admin.Config{}, admin.Options{Source: newSource(t), Keys: &memKeys{}})
	addr, auth := s.Addr().String(), "Bearer "+token

	a := call(t, addr, "POST", "/admin/keys", auth, `{"tenant":"acme","name":"ci","models":["gpt-5.5"],"expires_at":"2027-01-01T00:00:00Z"}`)
	if a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var created struct {
		admin.Key
		Secret string
	}
	if err := json.Unmarshal([]byte(a.body), &created); err != nil || created.ID != "key_1" || created.Secret != "sk-sy-secret-1" || created.Models[0] != "gpt-5.5" {
		t.Fatalf("created %v %s", err, a.body)
	}
	a = call(t, addr, "GET", "/admin/keys?tenant=acme", auth, "")
	contains(t, a, `"id":"key_1"`, `"revoked":false`)
	if strings.Contains(a.body, "secret") {
		t.Fatalf("a listing carries a secret: %s", a.body)
	}
	contains(t, call(t, addr, "GET", "/admin/tenants", auth, ""), `"name":"acme"`, `"keys":1`)
	contains(t, call(t, addr, "POST", "/admin/keys/key_1/rotate", auth, ""), `"secret":"sk-sy-secret-2"`, `"id":"key_1"`)
	contains(t, call(t, addr, "POST", "/admin/keys/key_1/revoke", auth, ""), `"revoked":true`)
	contains(t, call(t, addr, "GET", "/admin/keys", auth, ""), `"revoked":true`)

	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/admin/keys/key_9/revoke", "", 404, "not_found"},
		{"POST", "/admin/keys/key_9/rotate", "", 404, "not_found"},
		{"GET", "/admin/keys/key_1/revoke", "", 405, "method_not_allowed"},
		{"POST", "/admin/keys/key_1/delete", "", 404, "unknown_url"},
		{"POST", "/admin/keys", `{"tenant":`, 400, "invalid_json"},
		{"POST", "/admin/keys", `{"name":"x"}`, 400, "missing_tenant"},
		{"POST", "/admin/keys", `{"tenant":"other"}`, 404, "not_found"},
		{"POST", "/admin/keys", `{"tenant":"acme","models":["a","b","c","d","e","f","g","h","i","j","k"]}`, 400, "invalid_request"},
		{"GET", "/admin/keys?tenant=zzz", "", 404, "not_found"},
		{"DELETE", "/admin/keys", "", 405, "method_not_allowed"},
	} {
		a := call(t, addr, c.method, c.path, auth, c.body)
		if a.status != c.status || !strings.Contains(a.body, `"code":"`+c.code+`"`) {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, a.status, a.body)
		}
	}
	// A store failure is a 500 whose body does not repeat the store's error.
	call(t, addr, "POST", "/admin/keys", auth, `{"tenant":"acme"}`)
	a = call(t, addr, "POST", "/admin/keys/key_boom/rotate", auth, "")
	if a.status != 500 || strings.Contains(a.body, "secret-path") {
		t.Fatalf("store failure: %d %s", a.status, a.body)
	}
}

func TestWithoutKeysOrReload(t *testing.T) {
	s := start(t, admin.Config{}, admin.Options{Source: newSource(t)})
	addr, auth := s.Addr().String(), "Bearer "+token
	for _, c := range [][2]string{{"GET", "/admin/keys"}, {"GET", "/admin/tenants"}, {"POST", "/admin/keys/k/revoke"}, {"POST", "/admin/reload"}} {
		if a := call(t, addr, c[0], c[1], auth, ""); a.status != 501 {
			t.Errorf("%s %s: %d", c[0], c[1], a.status)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	src := newSource(t)
	if _, err := admin.New(admin.Config{Token: "x"}, admin.Options{Source: src}); !errors.Is(err, admin.ErrNoListen) {
		t.Fatal(err)
	}
	if _, err := admin.New(admin.Config{Listen: "127.0.0.1:0"}, admin.Options{Source: src}); !errors.Is(err, admin.ErrNoToken) {
		t.Fatal(err)
	}
	if _, err := admin.New(admin.Config{Listen: "127.0.0.1:0", Token: "x"}, admin.Options{}); err == nil {
		t.Fatal("no source accepted")
	}
}

// The admin API lives on its own listener: it cannot share the client
// listener's address, and the client listener does not answer /admin/.
func TestAdminListenerIsSeparate(t *testing.T) {
	public, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tel, _ := telemetry.New(telemetry.Config{NoProcessMetrics: true})
	defer tel.Close(context.Background())
	tel.Handles(telemetry.Labels{Endpoint: "chat", Tenant: "acme", Model: "m", Upstream: "u"}).Record(&telemetry.Outcome{Status: 200})
	// The client-facing server: a stand-in for the core's handler that
	// serves /metrics and nothing under /admin/.
	pub := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/metrics" {
			tel.MetricsHandler()(ctx)
			return
		}
		ctx.SetStatusCode(404)
	}}
	go pub.Serve(public)
	defer pub.Shutdown()

	if _, err := admin.New(admin.Config{Listen: public.Addr().String(), Token: token}, admin.Options{Source: newSource(t)}); err == nil {
		t.Fatal("admin started on the client listener's address")
	}
	s := start(t, admin.Config{}, admin.Options{Source: newSource(t), Metrics: tel.MetricsHandler()})
	if a := call(t, s.Addr().String(), "GET", "/metrics", "", ""); a.status != 200 || !strings.Contains(a.body, "# TYPE switchyard_requests_total counter") {
		t.Fatalf("admin /metrics: %d %.200s", a.status, a.body)
	}
	if s.Addr().String() == public.Addr().String() {
		t.Fatal("same address")
	}
	if a := call(t, public.Addr().String(), "GET", "/admin/upstreams", "Bearer "+token, ""); a.status != 404 {
		t.Fatalf("public listener answered /admin/: %d", a.status)
	}
	if a := call(t, s.Addr().String(), "GET", "/admin/upstreams", "Bearer "+token, ""); a.status != 200 {
		t.Fatalf("admin listener: %d", a.status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Fatal("admin listener still accepts after Close")
	}
}

func TestBadRequests(t *testing.T) {
	s := start(t, admin.Config{}, admin.Options{Source: newSource(t), Keys: &memKeys{}})
	addr, auth := s.Addr().String(), "Bearer "+token
	// Raw requests: the server answers before reading a body it refuses,
	// and a client still writing it would see a reset.
	raw := func(req string) string {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte(req))
		got, _ := io.ReadAll(conn) // the server closes after an error
		return string(got)
	}
	if got := raw("POST /admin/keys HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + "\r\nContent-Length: 2097152\r\n\r\n{\"tenant\":"); !strings.HasPrefix(got, "HTTP/1.1 413") || !strings.Contains(got, `"code":"request_too_large"`) {
		t.Fatalf("large body: %q", got)
	}
	if got := raw("GET /admin/upstreams HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400") || !strings.Contains(got, `"type":"invalid_request_error"`) {
		t.Fatalf("malformed request: %q", got)
	}
	for _, p := range []string{"/dashboard/app.js", "/dashboard/style.css"} {
		a := call(t, addr, "GET", p, "", "")
		if a.status != 200 || !strings.Contains(string(a.header.Peek("Content-Security-Policy")), "default-src 'self'") {
			t.Fatalf("%s: %d %s", p, a.status, a.header.Peek("Content-Security-Policy"))
		}
	}
	if a := call(t, addr, "GET", "/dashboard/../admin.go", "", ""); a.status != 404 {
		t.Fatalf("traversal: %d", a.status)
	}
}
