package native

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

// Defaults for zero fields of Config.
const (
	// DefaultTimeout bounds one Route or Redact call, round trip included.
	// A native plugin may call a service of its own, so it gets more than a
	// Wasm plugin's fuel allows; it still sits on every request's path.
	DefaultTimeout = 500 * time.Millisecond
	// DefaultStartTimeout bounds starting the process, go-plugin's handshake
	// and the plugin's Init.
	DefaultStartTimeout = 10 * time.Second
	// DefaultHealthInterval is how often a running process is pinged.
	DefaultHealthInterval = time.Second
	// DefaultRestartBackoff is the delay before the first restart after a
	// crash; it doubles on each restart up to DefaultMaxRestartBackoff.
	DefaultRestartBackoff    = 100 * time.Millisecond
	DefaultMaxRestartBackoff = 30 * time.Second
	// FailureThreshold is K: this many failed calls in a row make Healthy
	// report an error, and this many timeouts in a row make the process be
	// presumed stuck and restarted.
	FailureThreshold = 5
	// stableUptime: a process that ran this long before it died restarts
	// after the first backoff again, not after the doubled one.
	stableUptime = 10 * time.Second
	// maxLine caps one logged line of the plugin's output.
	maxLine = 8 << 10
)

// Config is one native plugin: an executable the router starts and talks to
// over go-plugin's gRPC transport. The zero value of every field but Name
// and Binary means its default; Load validates it and does not keep or
// change the caller's slices.
type Config struct {
	// Name is the configured name, for logs, metrics and the policy's error
	// messages. Required.
	Name string
	// Kind is the hooks this plugin serves for the router; 0 = every hook
	// the process declares. A process that lacks one of them is refused.
	Kind plugins.Kind
	// Binary is the path of the executable (a program whose main calls
	// plugins/native/sdk.Serve). Required.
	Binary string
	// OnError is the failure policy: a call that fails, times out or finds
	// the process down is skipped (open; default for route) or answered
	// with a 503 *plugins.Error (closed; default for redact).
	OnError plugins.OnError
	// Timeout bounds one call; 0 = DefaultTimeout.
	Timeout time.Duration
	// Env names the router's environment variables the process gets (those
	// that are set). Nothing else of the router's environment is inherited,
	// not even PATH or HOME: secrets stay with the router.
	Env []string
	// PluginConfig is the plugin's own config, JSON, handed to its Init on
	// every start; nil = "{}".
	PluginConfig []byte
	// StartTimeout bounds start, handshake and Init; 0 = DefaultStartTimeout.
	StartTimeout time.Duration
	// HealthInterval is how often the process is pinged; 0 =
	// DefaultHealthInterval.
	HealthInterval time.Duration
	// RestartBackoff is the delay before the first restart after a crash,
	// doubling up to MaxRestartBackoff; 0 = the defaults.
	RestartBackoff, MaxRestartBackoff time.Duration
	// Logger receives lifecycle events and the plugin's output lines
	// (stderr and stdout, one record per whole line). nil = slog.Default().
	Logger *slog.Logger
}

// normalize returns a validated copy of c with defaults filled in.
func (c Config) normalize() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: plugin %q: "+format, append([]any{ErrConfig, c.Name}, args...)...)
	}
	if c.Name == "" {
		return bad("name is required")
	}
	if c.Binary == "" {
		return bad("binary is required")
	}
	fi, err := os.Stat(c.Binary)
	if err != nil {
		return bad("binary: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return bad("binary %s is not an executable file", c.Binary)
	}
	if c.Kind&^(plugins.KindRoute|plugins.KindRedact) != 0 {
		return bad("%w %d", plugins.ErrBadKind, c.Kind)
	}
	if c.OnError > plugins.OnErrorClosed {
		return bad("%w %d", plugins.ErrBadOnError, c.OnError)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"timeout", &c.Timeout, DefaultTimeout},
		{"start_timeout", &c.StartTimeout, DefaultStartTimeout},
		{"health_interval", &c.HealthInterval, DefaultHealthInterval},
		{"restart_backoff", &c.RestartBackoff, DefaultRestartBackoff},
		{"max_restart_backoff", &c.MaxRestartBackoff, DefaultMaxRestartBackoff},
	} {
		if *d.v < 0 {
			return bad("%s %v is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.MaxRestartBackoff < c.RestartBackoff {
		return bad("max_restart_backoff %v is below restart_backoff %v", c.MaxRestartBackoff, c.RestartBackoff)
	}
	c.Env = append([]string(nil), c.Env...)
	for _, name := range c.Env {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return bad("env: %q is not a variable name", name)
		}
	}
	if c.PluginConfig == nil {
		c.PluginConfig = []byte("{}")
	} else {
		if !json.Valid(c.PluginConfig) {
			return bad("config is not valid JSON")
		}
		c.PluginConfig = append([]byte(nil), c.PluginConfig...)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// binaryStamp identifies one version of the binary file.
type binaryStamp struct {
	size  int64
	mtime time.Time
}

func stampOf(path string) (binaryStamp, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return binaryStamp{}, false
	}
	return binaryStamp{size: fi.Size(), mtime: fi.ModTime()}, true
}

// sameAs reports whether c and o (both normalized) configure the same
// plugin; the logger does not count.
func (c *Config) sameAs(o *Config) bool {
	return c.Name == o.Name && c.Kind == o.Kind && c.Binary == o.Binary && c.OnError == o.OnError &&
		c.Timeout == o.Timeout && slices.Equal(c.Env, o.Env) && bytes.Equal(c.PluginConfig, o.PluginConfig) &&
		c.StartTimeout == o.StartTimeout && c.HealthInterval == o.HealthInterval &&
		c.RestartBackoff == o.RestartBackoff && c.MaxRestartBackoff == o.MaxRestartBackoff
}

// environ is the process's whole environment: the allow-listed variables
// that are set (go-plugin adds its handshake variables).
func (c *Config) environ() []string {
	env := make([]string, 0, len(c.Env))
	for _, name := range c.Env {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}
