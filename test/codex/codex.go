// Package codex runs the Codex CLI pinned in package-lock.json (@openai/codex 0.169.0) against
// an OpenAI-Responses base URL, for end-to-end tests: the mock clouds directly, or a Switchyard
// PoP. Install brings the CLI in with `npm ci` when it is missing; Exec writes a fresh
// CODEX_HOME with one model provider (wire_api = "responses") and runs `codex exec` in a
// temporary work directory. Codex never sees the real home: HOME and CODEX_HOME both point into
// the run's temporary directory, and the environment is built from scratch.
//
// Use from a test:
//
//	res, err := codex.Exec(ctx, codex.Run{BaseURL: srv.URL() + "/v1", Model: "gpt-oss-120b",
//		APIKey: key, Prompt: `[[call exec_command {"cmd":"echo hi > out.txt"}]]`})
//	// res.Dir holds out.txt; res.LastMessage is Codex's final message.
package codex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrNoNPM is returned by Install when npm is not on PATH.
var ErrNoNPM = errors.New("codex: npm is required to install the Codex CLI (apt-get install npm)")

// Run is one `codex exec` invocation.
type Run struct {
	// BaseURL is the provider's base URL including /v1, e.g. "http://127.0.0.1:8080/v1".
	BaseURL string
	// Model is the model name Codex sends.
	Model string
	// APIKey is sent as "Authorization: Bearer <APIKey>" (through the env var Codex reads).
	APIKey string
	// Prompt is the task.
	Prompt string
	// Dir is the work directory Codex runs in; default a new temporary directory (kept: the
	// caller inspects it and removes it, or uses t.TempDir()).
	Dir string
	// ExtraConfig is appended to config.toml verbatim (TOML).
	ExtraConfig string
}

// Result is what one run produced.
type Result struct {
	Dir         string // the work directory
	ExitCode    int
	Stdout      []byte
	Stderr      []byte
	LastMessage string // Codex's final message (--output-last-message)
}

// Dir is the folder holding package.json and package-lock.json (this package's own folder).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Bin is the path of the installed codex launcher.
func Bin() string { return filepath.Join(Dir(), "node_modules", ".bin", "codex") }

var installMu sync.Mutex

// Install runs `npm ci` in Dir unless the pinned CLI is already there. Safe for concurrent use,
// also across processes: `go test ./...` runs packages in parallel, and two `npm ci` at once (or
// a spawn of a binary npm is still writing: ETXTBSY) break each other, so the install holds an
// exclusive flock on a lock file and is marked done only once it is complete.
func Install(ctx context.Context) (string, error) {
	installMu.Lock()
	defer installMu.Unlock()
	done := filepath.Join(Dir(), "node_modules", ".switchyard-installed")
	if _, err := os.Stat(done); err == nil {
		return Bin(), nil
	}
	lock, err := os.OpenFile(filepath.Join(Dir(), ".install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(done); err == nil { // another process installed it meanwhile
		return Bin(), nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", ErrNoNPM
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = Dir()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("codex: npm ci: %v\n%s", err, out)
	}
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		return "", err
	}
	return Bin(), nil
}

// Config renders the config.toml Exec writes.
func Config(r Run) string {
	return `model = ` + strconv.Quote(r.Model) + `
model_provider = "switchyard"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.switchyard]
name = "Switchyard"
base_url = ` + strconv.Quote(r.BaseURL) + `
wire_api = "responses"
env_key = "SWITCHYARD_API_KEY"
` + r.ExtraConfig
}

// Exec installs the CLI if needed and runs `codex exec` once. A non-zero exit is not an error:
// it is reported in Result.ExitCode with Codex's output.
func Exec(ctx context.Context, r Run) (*Result, error) {
	bin, err := Install(ctx)
	if err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp("", "codex-home-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	if r.Dir == "" {
		if r.Dir, err = os.MkdirTemp("", "codex-work-"); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(Config(r)), 0o600); err != nil {
		return nil, err
	}
	last := filepath.Join(home, "last-message.txt")
	cmd := exec.CommandContext(ctx, bin, "exec", "--skip-git-repo-check", "--ephemeral",
		"--color", "never", "-o", last, r.Prompt)
	cmd.Dir = r.Dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"CODEX_HOME=" + home,
		"SWITCHYARD_API_KEY=" + r.APIKey,
		"NO_COLOR=1",
		"TERM=dumb",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader("")
	err = cmd.Run()
	res := &Result{Dir: r.Dir, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	case err != nil:
		return res, fmt.Errorf("codex: run: %w", err)
	}
	if b, err := os.ReadFile(last); err == nil {
		res.LastMessage = strings.TrimSpace(string(b))
	}
	return res, nil
}
