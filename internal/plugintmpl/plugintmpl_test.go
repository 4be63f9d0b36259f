package plugintmpl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewWritesEveryLanguageAndDetectFindsIt(t *testing.T) {
	root := FindRoot(".")
	if root == "" {
		t.Fatal("FindRoot found no checkout above the package")
	}
	for _, lang := range Langs {
		for _, kind := range []string{"route", "redact"} {
			dir := filepath.Join(t.TempDir(), "p")
			if _, err := New(Options{Lang: lang, Kind: kind, Name: "my-plugin", Dir: dir, Root: root}); err != nil {
				t.Fatalf("%s %s: %v", lang, kind, err)
			}
			got, err := Detect(dir)
			if err != nil || got != lang {
				t.Errorf("%s %s: Detect = %q, %v", lang, kind, got, err)
			}
			readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			if strings.Contains(string(readme), "<no value>") || !strings.Contains(string(readme), "plugin build") {
				t.Errorf("%s %s: README not filled in:\n%s", lang, kind, readme)
			}
		}
	}
}

func TestWATPluginCarriesNameAndKind(t *testing.T) {
	s := string(watPlugin("abc", "redact"))
	for _, want := range []string{`(data (i32.const 16) "abc")`, `(i64.const 0x0000001000000003))`, `(result i32) (i32.const 2))`} {
		if !strings.Contains(s, want) {
			t.Errorf("WAT plugin lacks %s", want)
		}
	}
	if strings.Contains(s, "my-plugin") {
		t.Error("WAT plugin still names my-plugin")
	}
}

func TestCheckToolchainNamesThePackage(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing on PATH
	var te *ToolchainError
	for lang, pkg := range map[string]string{"c": "clang lld wasi-libc", "wat": "wabt", "assemblyscript": "nodejs npm", "go": "Go 1.24"} {
		err := CheckToolchain(lang)
		if !errors.As(err, &te) || !strings.Contains(err.Error(), pkg) {
			t.Errorf("CheckToolchain(%s) = %v, want a ToolchainError naming %s", lang, err, pkg)
		}
	}
	if err := CheckToolchain("cobol"); !errors.Is(err, ErrLang) {
		t.Errorf("CheckToolchain(cobol) = %v", err)
	}
}
