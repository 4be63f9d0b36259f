package router_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

// A swap sends new requests to the new Server at once, while a stream that
// started on the old one finishes there; the old one is retired only after.
func TestLiveSwapKeepsInFlightStreams(t *testing.T) {
	slow := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 40 * time.Millisecond})
	fresh := azureMock(t)
	build := func(u config.Upstream) *router.Server {
		cfg := &config.Config{Listen: "127.0.0.1:0", Upstreams: []config.Upstream{u}}
		cfg.ApplyDefaults()
		srv, err := router.New(cfg, router.Options{Build: router.BuildAdapter})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	old := build(openaiUpstream("old", slow))
	live := router.NewLive(old)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go live.Serve(ln)
	t.Cleanup(func() { live.Close(context.Background()) })
	base := "http://" + ln.Addr().String()

	resp, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three four five six"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	next := build(azureUpstream("new", fresh, "v1"))
	live.Swap(next, time.Minute)

	r2, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"after"}]}`))
	if err != nil || r2.Header.Get("x-switchyard-upstream") != "new" {
		t.Fatalf("new request not on the new config: %v %v", err, r2.Header)
	}
	r2.Body.Close()

	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.HasSuffix(string(body), "data: [DONE]\n\n") || resp.Header.Get("x-switchyard-upstream") != "old" {
		t.Fatalf("in-flight stream broken by the swap: %v %q", err, body)
	}
	if live.Current() != next {
		t.Fatal("Current is not the new server")
	}
}
