package plugintest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins/wasm"
)

var cacheDir = filepath.Join(os.TempDir(), "switchyard-wazero-test-cache")

const chat = `{"model":"gpt-5.5","temperature":0,"messages":[{"role":"user","content":"write to bob@example.com and ann@example.org, cc bob@example.com"}]}`

func TestRunRoute(t *testing.T) {
	tests := []struct {
		name, wasm, ups string
		want            []string
	}{
		{"wat sample table", "../../examples/plugins/wat/healthy-only/plugin.wasm", "", []string{"healthy-only 1.0.0 (route)", "route    azure-eu > bedrock-us"}},
		{"c own table", "../../examples/plugins/c/lowest-latency/plugin.wasm",
			`[{"name":"slow","ttfb_ms":500},{"name":"fast","ttfb_ms":50},{"name":"down","healthy":false,"ttfb_ms":1}]`,
			[]string{"lowest-latency 1.0.0 (route)", "route    fast > slow"}},
		{"no opinion", "../../examples/plugins/wat/healthy-only/plugin.wasm", `[{"name":"down","healthy":false}]`, []string{"no opinion"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			o := Options{Wasm: tt.wasm, Request: []byte(chat), Runs: 5, CacheDir: cacheDir}
			if tt.ups != "" {
				o.Upstreams = []byte(tt.ups)
			}
			if err := Run(context.Background(), &out, o); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(out.String(), "median of 5 calls") {
				t.Errorf("no timing:\n%s", out.String())
			}
		})
	}
}

func TestRunRedactGo(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "redact-email.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", file, ".")
	cmd.Dir = "../../examples/plugins/go/redact-email"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	var out bytes.Buffer
	err := Run(context.Background(), &out, Options{Wasm: file, Request: []byte(chat), Runs: 3, CacheDir: cacheDir,
		Config: []byte(`{"entities":["email"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"redact-email 1.0.0 (redact)", "2 placeholder(s)", `<EMAIL_1> = "bob@example.com"`, `<EMAIL_2> = "ann@example.org"`,
		`write to <EMAIL_1> and <EMAIL_2>, cc <EMAIL_1>`,
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	var out bytes.Buffer
	ctx := context.Background()
	if err := Run(ctx, &out, Options{Wasm: "x.wasm", Request: []byte("{")}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("bad request: %v", err)
	}
	if err := Run(ctx, &out, Options{Wasm: "x.wasm", Request: []byte(chat), Upstreams: []byte("[]")}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("empty upstreams: %v", err)
	}
	if err := Run(ctx, &out, Options{Wasm: "../wasm/testdata/badversion.wasm", Request: []byte(chat)}); !errors.Is(err, wasm.ErrABI) {
		t.Fatalf("bad module: %v", err)
	}
	out.Reset()
	if err := Run(ctx, &out, Options{Wasm: "../wasm/testdata/loop.wasm", Request: []byte(chat)}); !errors.Is(err, wasm.ErrFuelExhausted) {
		t.Fatalf("loop: %v", err)
	}
	if !strings.Contains(out.String(), "route    FAILED") || !strings.Contains(out.String(), "(fuel exhausted)") {
		t.Fatalf("loop report:\n%s", out.String())
	}
}
