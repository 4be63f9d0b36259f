package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/internal/plugintmpl"
)

// workflowFuel is the CPU budget the workflow test gives `plugin test
// --conformance`: the default base plus the per-byte allowance the host
// gives a 1 MiB body (plugins/wasm's budget per input byte), so the template
// redactors' byte loops pass the 1-MiB-body vector as they will in the router.
const workflowFuel = "400000000"

// toolchain makes sure lang's toolchain is there, installing it the way
// scripts/test-deps.sh does, or fails the test saying what is missing.
func toolchain(t *testing.T, lang string) {
	t.Helper()
	if plugintmpl.CheckToolchain(lang) == nil {
		return
	}
	out, installErr := exec.Command("sh", "../../scripts/test-deps.sh").CombinedOutput()
	if err := plugintmpl.CheckToolchain(lang); err != nil {
		t.Fatalf("%v (scripts/test-deps.sh could not install it: %v\n%s)", err, installErr, out)
	}
}

// TestPluginWorkflow runs `plugin new` → `plugin build` → `plugin test
// --conformance` and the project's own test for every language and kind.
func TestPluginWorkflow(t *testing.T) {
	for _, lang := range plugintmpl.Langs {
		for _, kind := range []string{"route", "redact"} {
			t.Run(lang+"-"+kind, func(t *testing.T) {
				toolchain(t, lang)
				dir := filepath.Join(t.TempDir(), "my-"+kind)
				if err := pluginDispatch([]string{"new", "--lang", lang, "--kind", kind, "--dir", dir, "--sdk", "../..", "my-" + kind}); err != nil {
					t.Fatal(err)
				}
				readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
				if err != nil || !strings.Contains(string(readme), "switchyard plugin build") {
					t.Fatalf("README: %v\n%s", err, readme)
				}
				if err := pluginDispatch([]string{"build", dir}); err != nil {
					t.Fatal(err)
				}
				args := []string{"test", "--conformance", "--max-fuel", workflowFuel}
				// The templates' behaviours; the WAT redact template is a skeleton
				// (nothing matched), so only the invariants apply to it.
				switch {
				case kind == "route" && lang == "wat":
					args = append(args, "--behaviour", "healthy-only")
				case kind == "route":
					args = append(args, "--behaviour", "lowest-latency")
				case lang != "wat":
					args = append(args, "--behaviour", "redact-digits")
				}
				if err := pluginDispatch(append(args, filepath.Join(dir, "plugin.wasm"))); err != nil {
					t.Fatal(err)
				}
				ownTest(t, lang, dir)
			})
		}
	}
}

// ownTest runs the project's test in its language's runner, where it has one.
func ownTest(t *testing.T, lang, dir string) {
	var cmd *exec.Cmd
	switch lang {
	case "go":
		cmd = exec.Command("go", "test", "-count=1", ".")
	case "rust":
		cmd = exec.Command("/usr/bin/cargo", "test", "--offline", "--quiet")
		cmd.Env = append(os.Environ(), "RUSTC=/usr/bin/rustc")
	case "assemblyscript":
		cmd = exec.Command("npm", "test")
	default:
		return // C and WAT: the conformance vectors are the test
	}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

func TestPluginNewRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want error
	}{
		{[]string{"--lang", "cobol", "x"}, plugintmpl.ErrLang},
		{[]string{"--lang", "c", "--kind", "filter", "x"}, plugintmpl.ErrKind},
		{[]string{"--lang", "c", "Bad_Name"}, plugintmpl.ErrName},
	} {
		err := pluginNew(append(tc.args, "--dir", filepath.Join(dir, "p")))
		if !errors.Is(err, tc.want) {
			t.Errorf("plugin new %v = %v, want %v", tc.args, err, tc.want)
		}
	}
	if err := pluginNew([]string{"--lang", "c", "--dir", dir, "x"}); err != nil {
		t.Fatal(err)
	}
	if err := pluginNew([]string{"--lang", "c", "--dir", dir, "x"}); !errors.Is(err, plugintmpl.ErrExists) {
		t.Errorf("second plugin new into %s = %v, want ErrExists", dir, err)
	}
}

func TestPluginBuildNamesTheProjectItCannotDetect(t *testing.T) {
	err := pluginBuild([]string{t.TempDir()})
	if !errors.Is(err, plugintmpl.ErrUnknown) || !strings.Contains(err.Error(), "Cargo.toml") {
		t.Fatalf("plugin build of an empty dir = %v", err)
	}
}
