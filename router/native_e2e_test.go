package router_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/router/config"
)

// A native plugin (plugins/native, over hashicorp/go-plugin) configured with
// plugins[].native routes requests end to end through the router: the example
// price router reads its prices from a file and sends each request to the
// cheapest upstream, here the one configured last.
func TestNativeRoutingPluginEndToEnd(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "price-router")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../examples/plugins/native/price-router")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(`{"regions":{},"upstreams":{"dear":{"in":5,"out":15},"cheap":{"in":0.1,"out":0.4}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	dear, cheap := openaiUpstream("dear", openaiMock(t)), azureUpstream("cheap", azureMock(t), "v1")
	base, _ := startRouter(t, &config.Config{
		Upstreams: []config.Upstream{dear, cheap},
		Plugins: []config.Plugin{{Name: "price", Kind: "route", Native: bin, OnError: "closed",
			Config: map[string]any{"prices_file": prices}}},
	})
	for range 3 {
		status, h, body := post(t, base, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
		if status != 200 || h.Get("x-switchyard-upstream") != "cheap" {
			t.Fatalf("%d %s %s", status, h.Get("x-switchyard-upstream"), body)
		}
	}
}
