// Package plugintmpl is the logic behind `switchyard plugin new` and
// `switchyard plugin build`: it writes a buildable plugin project in one of
// the five SDK languages, detects a project's language, checks its
// toolchain and builds its plugin.wasm. Validating the module against ABI v1
// is the caller's (cmd/switchyard loads it with the Wasm host's checks).
//
// Go, Rust and AssemblyScript projects depend on the SDK in a Switchyard
// checkout by path (Root); C and WAT projects get their single-file SDK
// copied in, from package sdk.
package plugintmpl

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/switchyard-dev/switchyard/sdk"
)

// Errors. A missing toolchain is a *ToolchainError.
var (
	ErrLang    = errors.New("plugintmpl: unknown language (want go, rust, c, assemblyscript or wat)")
	ErrKind    = errors.New("plugintmpl: unknown kind (want route or redact)")
	ErrName    = errors.New("plugintmpl: bad plugin name (lower-case letters, digits and dashes, 1-64, starting with a letter)")
	ErrExists  = errors.New("plugintmpl: directory exists and is not empty")
	ErrNoRoot  = errors.New("plugintmpl: no Switchyard checkout found (run inside one, or pass its path)")
	ErrUnknown = errors.New("plugintmpl: cannot tell the project's language")
)

// Langs are the languages New writes, in the order docs list them.
var Langs = []string{"go", "rust", "c", "assemblyscript", "wat"}

// ASCVersion is the AssemblyScript compiler a new project pins; the same as
// sdk/assemblyscript/package-lock.json.
const ASCVersion = "0.28.20"

// DemoPaths are the plugin paths in examples/configs/demo.yaml that a
// project's README replaces with its own module, per kind.
var DemoPaths = map[string]string{
	"route":  "../plugins/go/cheapest-healthy/plugin.wasm",
	"redact": "../plugins/go/redact-email/plugin.wasm",
}

//go:embed templates
var templates embed.FS

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// Options say what New writes.
type Options struct {
	Lang, Kind, Name string
	Dir              string // the project's directory; default Name
	Root             string // the Switchyard checkout; default FindRoot from Dir and the working directory
}

type langInfo struct {
	name, source, ownTest, toolchain, sdkDoc string
}

var langs = map[string]langInfo{
	"go":             {"Go", "main.go", "`go test .`", "Go (always there: switchyard is built with it)", "sdk/go, by the replace line in go.mod"},
	"rust":           {"Rust", "src/lib.rs", "`/usr/bin/cargo test`", "Debian's `rustc cargo libstd-rust-dev-wasm32`, used by full path (/usr/bin/cargo)", "sdk/rust, a path dependency in Cargo.toml (no crates, offline)"},
	"c":              {"C", "plugin.c", "none in C: the vectors are the test", "Debian's `clang lld wasi-libc libclang-rt-dev-wasm32`", "switchyard.h, copied in (single header)"},
	"assemblyscript": {"AssemblyScript", "assembly/index.ts", "`npm test`", "`nodejs npm` (Debian) and the npm package `assemblyscript`, pinned in package.json", "sdk/assemblyscript, a file: dependency in package.json"},
	"wat":            {"WebAssembly text", "plugin.wat", "none in WAT: the vectors are the test", "Debian's `wabt`", "sdk/wat/template.wat, copied in"},
}

// New writes a project and returns its directory.
func New(o Options) (string, error) {
	li, ok := langs[o.Lang]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrLang, o.Lang)
	}
	if o.Kind != "route" && o.Kind != "redact" {
		return "", fmt.Errorf("%w: %q", ErrKind, o.Kind)
	}
	if !nameRE.MatchString(o.Name) {
		return "", fmt.Errorf("%w: %q", ErrName, o.Name)
	}
	dir := o.Dir
	if dir == "" {
		dir = o.Name
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return "", fmt.Errorf("%w: %s", ErrExists, dir)
	}
	root := o.Root
	if root != "" {
		if root, err = filepath.Abs(root); err != nil {
			return "", err
		}
		if FindRoot(root) != root {
			return "", fmt.Errorf("%w: %s has no switchyard go.mod", ErrNoRoot, root)
		}
	} else {
		wd, _ := os.Getwd()
		if root = FindRoot(filepath.Dir(dir)); root == "" {
			root = FindRoot(wd)
		}
		if root == "" && o.Lang != "c" && o.Lang != "wat" {
			return "", ErrNoRoot
		}
	}
	data := map[string]string{
		"Name": o.Name, "Kind": o.Kind, "Root": root, "Dir": dir, "ASCVersion": ASCVersion,
		"LangName": li.name, "Source": li.source, "OwnTest": li.ownTest, "Toolchain": li.toolchain,
		"SDKDoc": li.sdkDoc, "DemoPath": DemoPaths[o.Kind],
	}
	files := map[string][]byte{}
	for _, base := range []string{"templates/common", "templates/" + o.Lang} {
		err := fs.WalkDir(templates, base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel := strings.TrimSuffix(strings.TrimPrefix(p, base+"/"), ".tmpl")
			switch {
			case strings.HasSuffix(rel, ".route"), strings.HasSuffix(rel, ".redact"):
				if path.Ext(rel) != "."+o.Kind {
					return nil
				}
				rel = strings.TrimSuffix(rel, path.Ext(rel))
			case rel == "gitignore":
				rel = ".gitignore"
			}
			b, err := render(templates, p, data)
			files[rel] = b
			return err
		})
		if err != nil {
			return "", err
		}
	}
	switch o.Lang {
	case "c":
		files["switchyard.h"] = sdk.CHeader
	case "wat":
		files["plugin.wat"] = watPlugin(o.Name, o.Kind)
	}
	for rel, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func render(fsys fs.FS, name string, data any) ([]byte, error) {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	t, err := template.New(name).Parse(string(src))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = t.Execute(&b, data)
	return b.Bytes(), err
}

// watPlugin is the WAT template with the plugin's name and kind in place.
func watPlugin(name, kind string) []byte {
	s := string(sdk.WATTemplate)
	s = strings.Replace(s, `(data (i32.const 16) "my-plugin")  ;; plugin_name: 9 bytes at 16`,
		fmt.Sprintf(`(data (i32.const 16) %q)  ;; plugin_name: %d bytes at 16`, name, len(name)), 1)
	s = strings.Replace(s, `(i64.const 0x0000001000000009))    ;; ptr 16 << 32 | len 9`,
		fmt.Sprintf(`(i64.const 0x00000010%08x))    ;; ptr 16 << 32 | len %d`, len(name), len(name)), 1)
	if kind == "redact" {
		s = strings.Replace(s, `(func (export "plugin_kinds") (result i32) (i32.const 1))`,
			`(func (export "plugin_kinds") (result i32) (i32.const 2))`, 1)
	}
	return []byte(s)
}

// FindRoot returns the Switchyard checkout at or above dir ("" if none): the
// directory whose go.mod declares the switchyard module.
func FindRoot(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/switchyard-dev/switchyard\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Detect returns the language of the project in dir.
func Detect(dir string) (string, error) {
	has := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	switch {
	case has("Cargo.toml"):
		return "rust", nil
	case has("package.json") && has("assembly"):
		return "assemblyscript", nil
	case has("go.mod"), has("main.go"):
		return "go", nil
	case has("plugin.c"):
		return "c", nil
	case has("plugin.wat"):
		return "wat", nil
	}
	return "", fmt.Errorf("%w in %s: expected Cargo.toml, package.json with assembly/, go.mod or main.go, plugin.c or plugin.wat", ErrUnknown, dir)
}

// ToolchainError names what is missing and the package that provides it.
type ToolchainError struct {
	Lang, Missing, Install string
}

func (e *ToolchainError) Error() string {
	return fmt.Sprintf("plugintmpl: %s plugins need %s: %s", e.Lang, e.Missing, e.Install)
}

// Debian's Rust, by full path: a rustup toolchain on PATH has no wasm std.
const (
	debianRustc = "/usr/bin/rustc"
	debianCargo = "/usr/bin/cargo"
	rustWasmStd = "/usr/lib/rustlib/wasm32-unknown-unknown"
)

// CheckToolchain reports the first missing tool of lang as a *ToolchainError.
func CheckToolchain(lang string) error {
	look := func(bin string) bool { _, err := exec.LookPath(bin); return err == nil }
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	missing := func(what, install string) error { return &ToolchainError{Lang: lang, Missing: what, Install: install} }
	switch lang {
	case "go":
		if !look("go") {
			return missing("the go command", "install Go 1.24 or later (go.dev/dl, or Debian's golang-go if recent enough)")
		}
	case "rust":
		if !exists(debianRustc) || !exists(debianCargo) {
			return missing("Debian's rustc and cargo", "apt-get install rustc cargo libstd-rust-dev-wasm32")
		}
		if !exists(rustWasmStd) {
			return missing("the wasm32 standard library", "apt-get install libstd-rust-dev-wasm32")
		}
	case "c":
		if !look("clang") || !look("wasm-ld") {
			return missing("clang and wasm-ld", "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32")
		}
		if !exists("/usr/include/wasm32-wasi") && !exists("/usr/share/wasi-sysroot") {
			return missing("the WASI libc", "apt-get install wasi-libc libclang-rt-dev-wasm32")
		}
	case "assemblyscript":
		if !look("node") || !look("npm") {
			return missing("node and npm", "apt-get install nodejs npm (the compiler then comes from the npm package assemblyscript)")
		}
	case "wat":
		if !look("wat2wasm") {
			return missing("wat2wasm", "apt-get install wabt")
		}
	default:
		return fmt.Errorf("%w: %q", ErrLang, lang)
	}
	return nil
}

// Build builds dir's plugin.wasm with lang's toolchain, writing the tools'
// output to w, and returns the module's path.
func Build(ctx context.Context, dir, lang string, w io.Writer) (string, error) {
	if err := CheckToolchain(lang); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "plugin.wasm")
	run := func(env []string, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, w, w
		cmd.Env = append(os.Environ(), env...)
		fmt.Fprintf(w, "$ %s %s\n", name, strings.Join(args, " "))
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("plugintmpl: %s: %w", name, err)
		}
		return nil
	}
	switch lang {
	case "go":
		// A project of its own (plugin new): tidy writes go.sum for the SDK's
		// module graph (no download when the checkout's modules are in the
		// module cache). A package inside another module (the examples) is
		// left to that module.
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if err := run(nil, "go", "mod", "tidy"); err != nil {
				return "", err
			}
		}
		return out, run([]string{"GOOS=wasip1", "GOARCH=wasm"}, "go", "build", "-buildmode=c-shared", "-o", out, ".")
	case "rust":
		env := []string{"RUSTC=" + debianRustc, "RUSTFLAGS=-C target-feature=+bulk-memory"}
		if err := run(env, debianCargo, "build", "--offline", "--release", "--target", "wasm32-unknown-unknown"); err != nil {
			return "", err
		}
		crate, err := crateName(filepath.Join(dir, "Cargo.toml"))
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(filepath.Join(dir, "target", "wasm32-unknown-unknown", "release", crate+".wasm"))
		if err != nil {
			return "", err
		}
		return out, os.WriteFile(out, b, 0o644)
	case "c":
		return out, run(nil, "clang", "--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-Wl,--strip-all", "-I", ".", "-o", out, "plugin.c")
	case "assemblyscript":
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "asc")); err != nil {
			install := "install"
			if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
				install = "ci"
			}
			if err := run(nil, "npm", install, "--no-audit", "--no-fund"); err != nil {
				return "", err
			}
		}
		return out, run(nil, filepath.Join(dir, "node_modules", ".bin", "asc"), "assembly/index.ts",
			"--exportStart", "_initialize", "--use", "abort=", "--runtime", "stub", "-O3", "--noAssert", "-o", out)
	case "wat":
		return out, run(nil, "wat2wasm", "plugin.wat", "-o", out)
	}
	return "", fmt.Errorf("%w: %q", ErrLang, lang)
}

var crateRE = regexp.MustCompile(`(?m)^name\s*=\s*"([^"]+)"`)

func crateName(cargoToml string) (string, error) {
	b, err := os.ReadFile(cargoToml)
	if err != nil {
		return "", err
	}
	m := crateRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("plugintmpl: no package name in %s", cargoToml)
	}
	return strings.ReplaceAll(string(m[1]), "-", "_"), nil
}
