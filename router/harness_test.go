package router_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/internal/wire"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

// startMock starts one mock cloud on loopback for the test's lifetime.
func startMock(t testing.TB, o mockcloud.Options) *mockcloud.Server {
	t.Helper()
	s, err := mockcloud.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openaiMock(t testing.TB) *mockcloud.Server {
	return startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", Models: []string{"gpt-4o-mini", "text-embedding-3-small"}})
}

func azureMock(t testing.TB) *mockcloud.Server {
	return startMock(t, mockcloud.Options{Provider: "azure", APIKey: "az-test", Models: []string{"mini-prod"}})
}

func openaiUpstream(name string, m *mockcloud.Server) config.Upstream {
	return config.Upstream{Name: name, Provider: "openai", BaseURL: m.URL(), Auth: config.Auth{APIKey: "sk-test"},
		Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini", "text-embedding-3-small": "text-embedding-3-small"}}
}

func azureUpstream(name string, m *mockcloud.Server, api string) config.Upstream {
	return config.Upstream{Name: name, Provider: "azure", BaseURL: m.URL(), API: api, Auth: config.Auth{APIKey: "az-test"},
		Models: map[string]string{"gpt-4o-mini": "mini-prod"}}
}

// startRouter serves cfg on a loopback port and returns its base URL.
func startRouter(t testing.TB, cfg *config.Config) (string, *router.Instance) {
	t.Helper()
	return startRouterWith(t, cfg, wire.Router(wire.Options{PluginPoll: -1}))
}

// startRouterWith is startRouter with the given wiring.
func startRouterWith(t testing.TB, cfg *config.Config, w router.Wiring) (string, *router.Instance) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := router.New(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return "http://" + ln.Addr().String(), srv
}

// fixedUpstream serves body with contentType to every request, from bytes
// built once, on a loopback port for the test's lifetime.
func fixedUpstream(t testing.TB, contentType string, body []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType(contentType)
		ctx.Response.SetBodyRaw(body)
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}
