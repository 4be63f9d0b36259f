package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins/wasm"
)

// examplesDir is examples/plugins, relative to this package.
const examplesDir = "../../examples/plugins"

// example is one example plugin module.
type example struct {
	Lang, Name string
	Path       string // the module
}

func (e example) String() string { return e.Lang + "/" + e.Name }

var goModules struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goModules.dir != "" {
		os.RemoveAll(goModules.dir)
	}
	os.Exit(code)
}

// examples finds every example plugin: Go ones are built once per test
// binary (their modules are not committed); every other language's folder
// must hold its committed plugin.wasm. Native (go-plugin) examples are not
// Wasm and are left out.
func examples(t testing.TB) []example {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(examplesDir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		lang, name := filepath.Base(filepath.Dir(d)), filepath.Base(d)
		switch lang {
		case "native":
			continue
		case "go":
			out = append(out, example{lang, name, goModule(t, name)})
		default:
			p := filepath.Join(d, "plugin.wasm")
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("example %s/%s has no committed plugin.wasm: run examples/plugins/build.sh and commit it", lang, name)
			}
			out = append(out, example{lang, name, p})
		}
	}
	return out
}

func goModule(t testing.TB, name string) string {
	goModules.once.Do(func() {
		goModules.dir, goModules.err = os.MkdirTemp("", "switchyard-conformance")
		if goModules.err != nil {
			return
		}
		dirs, _ := filepath.Glob(filepath.Join(examplesDir, "go", "*"))
		for _, d := range dirs {
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(goModules.dir, filepath.Base(d)+".wasm"), ".")
			cmd.Dir = d
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				goModules.err = fmt.Errorf("building %s: %v\n%s", d, err, out)
				return
			}
		}
	})
	if goModules.err != nil {
		t.Fatal(goModules.err)
	}
	return filepath.Join(goModules.dir, name+".wasm")
}

// vectorFuel is the CPU budget TestExamples gives every example: the host's
// default base plus its allowance per input byte (plugins/wasm budgets a call
// as base + per-byte × record size) for the largest vector, a 1 MiB body.
// Why not the flat default? Byte loops cost 7–400 fuel per byte depending on
// the language (Go's Wasm code is the costliest), so no redactor but C's
// memchr-based one scans 1 MiB within a flat 10M. TestDefaultBudget pins
// exactly which vectors exceed the flat default.
const vectorFuel = 400_000_000

// load is the one place this package calls the Wasm loader. maxFuel 0 is
// the host's default budget.
func load(t testing.TB, path string, maxFuel int64) *wasm.Plugin {
	t.Helper()
	p, err := wasm.Load(context.Background(),
		wasm.Config{Name: filepath.Base(filepath.Dir(path)), Wasm: path, PoolSize: 1, MaxCalls: 1 << 30, BaseFuel: maxFuel},
		wasm.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func vectors(t testing.TB) *Vectors {
	t.Helper()
	v, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExamples runs every example plugin, in every language, against every
// vector of its kinds, and checks that every behaviour the vectors describe
// was checked exactly by at least one example.
func TestExamples(t *testing.T) {
	v := vectors(t)
	exact := map[string][]string{}
	exs := examples(t)
	langs := map[string]bool{}
	for _, ex := range exs {
		langs[ex.Lang] = true
		t.Run(ex.String(), func(t *testing.T) {
			p := load(t, ex.Path, vectorFuel)
			rep := Run(context.Background(), p, v, "")
			for _, f := range rep.Failed() {
				t.Errorf("%s %s: %s", f.Kind, f.Vector, f.Err)
			}
			if len(rep.Results) == 0 {
				t.Fatalf("no vector applies to %s", ex)
			}
			if rep.Behaviour != "" {
				exact[rep.Behaviour] = append(exact[rep.Behaviour], ex.String())
			}
		})
	}
	for _, lang := range []string{"go", "rust", "c", "assemblyscript", "wat"} {
		if !langs[lang] {
			t.Errorf("no example plugin in %s", lang)
		}
	}
	for _, b := range v.Behaviours() {
		if len(exact[b]) == 0 {
			t.Errorf("behaviour %s: no example implements it, so its vectors are unchecked", b)
		}
	}
	t.Logf("exact behaviours checked: %v", exact)
}

// TestRunnerCatchesWrongAnswers guards the runner itself: a plugin checked
// against another behaviour's expectations must fail.
func TestRunnerCatchesWrongAnswers(t *testing.T) {
	v := vectors(t)
	p := load(t, filepath.Join(examplesDir, "wat", "healthy-only", "plugin.wasm"), 0)
	rep := Run(context.Background(), p, v, "lowest-latency")
	if len(rep.Failed()) == 0 {
		t.Fatal("healthy-only passed lowest-latency's vectors")
	}
	var b strings.Builder
	rep.WriteTo(&b)
	if !strings.Contains(b.String(), "FAIL") || !strings.Contains(b.String(), "got [") {
		t.Fatalf("report does not say what failed:\n%s", b.String())
	}
}

func TestVectorsCoverTheEdgeCases(t *testing.T) {
	v := vectors(t)
	var names []string
	for _, r := range v.Route {
		names = append(names, r.Name)
		if len(r.Expect) != 3 {
			t.Errorf("route vector %s has %d expectations, want 3", r.Name, len(r.Expect))
		}
	}
	for _, r := range v.Redact {
		names = append(names, r.Name)
	}
	for _, want := range []string{"empty-table", "all-unhealthy", "256-upstreams", "non-ascii", "1-MiB-body", "taken-numbers-are-skipped"} {
		if !slices.Contains(names, want) {
			t.Errorf("no vector %q", want)
		}
	}
	for _, r := range v.Route {
		if r.Name == "256-upstreams" && len(r.Upstreams) != 256 {
			t.Errorf("256-upstreams has %d rows", len(r.Upstreams))
		}
	}
	for _, r := range v.Redact {
		if r.Name == "1-MiB-body" && len(r.Body) < 1<<20 {
			t.Errorf("1-MiB-body is %d bytes", len(r.Body))
		}
	}
}

// TestDefaultBudget runs every example at the host's default CPU budget and
// pins the vectors that exceed it. When an SDK or the host's budget changes,
// this test fails and the list is updated.
func TestDefaultBudget(t *testing.T) {
	v := vectors(t)
	over := map[string]bool{
		"go/cheapest-healthy route 256-upstreams": true,
		"go/redact-email redact 200-addresses":    true,
		// wat/redact-digits on the 1 MiB body fits since the host's budget
		// grew an allowance per input byte (docs/abi.md).
	}
	for _, ex := range examples(t) {
		if ex.Lang == "rust" && ex.Name == "redact-pii" {
			continue // another team's example, with its own budget notes
		}
		p := load(t, ex.Path, 0)
		for _, r := range Run(context.Background(), p, v, "").Results {
			key := fmt.Sprintf("%s %s %s", ex, r.Kind, r.Vector)
			exhausted := strings.Contains(r.Err, "fuel exhausted")
			if exhausted != over[key] {
				t.Errorf("%s: fuel exhausted = %v, pinned %v (%s)", key, exhausted, over[key], r.Err)
			}
		}
	}
}
