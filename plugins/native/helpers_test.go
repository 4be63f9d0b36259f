package native_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native"
)

// Binaries built once per test run by TestMain, in a temporary directory.
var (
	testPlugin  string // testdata/testplugin
	priceRouter string // examples/plugins/native/price-router
)

// TestMain builds the plugin binaries once: every test starts real
// processes of them. (t.TempDir is per test; the binaries are shared.)
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "native-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugin = filepath.Join(dir, "testplugin")
	priceRouter = filepath.Join(dir, "price-router")
	for bin, pkg := range map[string]string{
		testPlugin:  "./testdata/testplugin",
		priceRouter: "../../examples/plugins/native/price-router",
	} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, ":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logSink collects JSON log records; safe for concurrent use.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(b)
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns every record logged so far.
func (s *logSink) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(s.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("log record %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// outputLines returns the plugin output lines logged so far, by stream.
func (s *logSink) outputLines(t *testing.T, stream string) []string {
	var out []string
	for _, r := range s.records(t) {
		if r["msg"] == "plugin output" && r["stream"] == stream {
			out = append(out, r["line"].(string))
		}
	}
	return out
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// load starts a plugin and closes it when the test ends.
func load(t testing.TB, cfg native.Config) *native.Plugin {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	p, err := native.Load(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func modeConfig(mode string) []byte { return []byte(`{"mode":"` + mode + `"}`) }

// waitFor polls cond until it holds, failing the test after a bound.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// table is an upstream table of three healthy upstreams in three regions.
func table() []plugins.Upstream {
	return []plugins.Upstream{
		{Name: "azure-eu", Provider: "azure", Region: "westeurope", Healthy: true, LatencyUS: 900},
		{Name: "bedrock-us", Provider: "bedrock", Region: "us-east-1", Healthy: true, LatencyUS: 1200},
		{Name: "vertex-eu", Provider: "vertex", Region: "europe-west4", Healthy: true, LatencyUS: 1000},
	}
}

var request = plugins.Request{
	Model: []byte("gpt-5.5"), Tenant: "acme", Path: "/v1/chat/completions", PoP: "fra1", Region: "eu-central",
	PromptTokens: 1000, Headers: []plugins.Header{{Name: []byte("user-agent"), Value: []byte("test")}},
}

// writeFile replaces path atomically, as a deployment tool would.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func pricesFile(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "prices.json")
	writeFile(t, path, `{"regions": {"westeurope": {"in": 2.5, "out": 10}, "us-east-1": {"in": 2, "out": 8},
		"europe-west4": {"in": 2.2, "out": 9}}}`)
	return path
}

func priceConfig(path string) []byte {
	b, _ := json.Marshal(map[string]any{"prices_file": path})
	return b
}

func equalInts(a, b []int) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}
