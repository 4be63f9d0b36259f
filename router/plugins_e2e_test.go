package router_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchyard-dev/switchyard/internal/wire"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

var (
	buildOnce sync.Map // name → *sync.Once
	buildDir  = sync.OnceValue(func() string { d, _ := os.MkdirTemp("", "switchyard-plugins-"); return d })
)

// examplePlugin builds a Go example plugin from its current source into a
// temporary folder, once per test binary (Go's build cache makes this cheap),
// so a stale plugin.wasm from an earlier ABI never slips into a test.
func examplePlugin(t testing.TB, name string) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "examples", "plugins", "go", name))
	out := filepath.Join(buildDir(), name+".wasm")
	v, _ := buildOnce.LoadOrStore(name, new(sync.Once))
	v.(*sync.Once).Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, b)
		}
	})
	return out
}

func startRouterWithPlugins(t testing.TB, cfg *config.Config) string {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := router.New(cfg, wire.Router(wire.Options{PluginPoll: -1}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(context.Background()) })
	return "http://" + ln.Addr().String()
}

// E-mail addresses never reach the cloud (it sees placeholders), and each
// client gets its own addresses back, in JSON and in streams.
func TestRedactionEndToEnd(t *testing.T) {
	m := openaiMock(t)
	base := startRouterWithPlugins(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Plugins: []config.Plugin{{Name: "pii", Kind: "redact", Wasm: examplePlugin(t, "redact-email"),
			Config: map[string]any{"entities": []any{"email"}}}},
	})
	c := client(base)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage("Write to alice@example.com and bob@corp.io, then alice@example.com again")}}
	res, err := c.Chat.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	want := "You said: Write to alice@example.com and bob@corp.io, then alice@example.com again"
	if got := res.Choices[0].Message.Content; got != want {
		t.Fatalf("client got %q", got)
	}
	sent := string(m.LastRequest().Body)
	if strings.Contains(sent, "@") || !strings.Contains(sent, "<EMAIL_1>") || !strings.Contains(sent, "<EMAIL_2>") {
		t.Fatalf("the cloud saw %s", sent)
	}
	s := c.Chat.Completions.NewStreaming(ctx, p)
	var b strings.Builder
	for s.Next() {
		for _, ch := range s.Current().Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	if s.Err() != nil || b.String() != want {
		t.Fatalf("stream: %v %q", s.Err(), b.String())
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^switchyard_plugin_healthy\{[^}]*plugin="pii"[^}]*\} 1$`).Match(metrics) ||
		!regexp.MustCompile(`(?m)^switchyard_plugin_calls_total\{hook="redact",plugin="pii"\} [1-9]`).Match(metrics) {
		t.Fatalf("plugin metrics missing:\n%s", metrics)
	}
}

// The routing plugin picks the cheapest healthy upstream even when it is
// configured last.
func TestRoutingPluginEndToEnd(t *testing.T) {
	dear, cheap := openaiMock(t), azureMock(t)
	d := openaiUpstream("dear", dear)
	d.Price = config.Price{Input: 5, Output: 15}
	ch := azureUpstream("cheap", cheap, "v1")
	ch.Price = config.Price{Input: 0.1, Output: 0.4}
	base := startRouterWithPlugins(t, &config.Config{
		Upstreams: []config.Upstream{d, ch},
		Plugins:   []config.Plugin{{Name: "cheapest", Kind: "route", Wasm: examplePlugin(t, "cheapest-healthy")}},
	})
	c := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	for range 5 {
		var raw *http.Response
		_, err := c.Chat.Completions.New(context.Background(), hello, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := raw.Header.Get("x-switchyard-upstream"); got != "cheap" {
			t.Fatalf("served by %q", got)
		}
	}
	if dear.Calls() != 0 || cheap.Calls() != 5 {
		t.Fatalf("calls dear=%d cheap=%d", dear.Calls(), cheap.Calls())
	}
}
