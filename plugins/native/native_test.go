package native_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native"
)

// The example price router serves Route through the host: cheapest healthy
// upstream first, unhealthy ones left out, and a prices file rewritten in
// place changes the order without a restart.
func TestPriceRouterEndToEnd(t *testing.T) {
	path := pricesFile(t)
	var logs logSink
	p := load(t, native.Config{Name: "price", Binary: priceRouter, PluginConfig: priceConfig(path), Logger: logs.logger()})
	if p.Kinds() != plugins.KindRoute {
		t.Fatalf("Kinds = %v, want route", p.Kinds())
	}
	ctx := context.Background()
	ups := table()
	// Costs for 1000 in + 256 out: us-east-1 4048, europe-west4 4504, westeurope 5060.
	got, err := p.Route(ctx, &request, ups, []int{7})
	if err != nil || !equalInts(got, []int{7, 1, 2, 0}) {
		t.Fatalf("Route = %v, %v; want [7 1 2 0] (dst prefix kept, cheapest first)", got, err)
	}
	ups[1].Healthy = false
	if got, err = p.Route(ctx, &request, ups, nil); err != nil || !equalInts(got, []int{2, 0}) {
		t.Fatalf("Route with bedrock-us unhealthy = %v, %v; want [2 0]", got, err)
	}
	for i := range ups {
		ups[i].Healthy = false
	}
	if got, err = p.Route(ctx, &request, ups, nil); err != nil || len(got) != 0 {
		t.Fatalf("Route with none healthy = %v, %v; want no opinion", got, err)
	}

	writeFile(t, path, `{"regions": {"westeurope": {"in": 0.5, "out": 1}}, "upstreams": {"vertex-eu": {"in": 9, "out": 9}}}`)
	ups = table()
	waitFor(t, "the rewritten prices file to change the order", func() bool {
		got, err = p.Route(ctx, &request, ups, got[:0])
		return err == nil && equalInts(got, []int{0, 2, 1}) // bedrock-us unpriced now: last
	})
	writeFile(t, path, `{"regions": `)
	waitFor(t, "the plugin to log the unreadable file", func() bool {
		for _, l := range logs.outputLines(t, "stderr") {
			if strings.HasPrefix(l, "price-router: prices file not loaded, keeping the previous prices") {
				return true
			}
		}
		return false
	})
	if got, err = p.Route(ctx, &request, ups, nil); err != nil || !equalInts(got, []int{0, 2, 1}) {
		t.Fatalf("Route after a broken file = %v, %v; want the previous prices' [0 2 1]", got, err)
	}
	if s := p.Stats(); s.Calls == 0 || s.Failures != 0 || s.Module != "price-router" || s.Version != "1.0.0" || !s.Healthy || s.PID == 0 {
		t.Fatalf("Stats = %+v", s)
	}
}

// Load refuses what cannot serve, saying why, and leaves nothing running.
func TestLoadRefuses(t *testing.T) {
	notExec := t.TempDir() + "/plain"
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	silent := t.TempDir() + "/silent"
	if err := os.WriteFile(silent, []byte("#!/bin/sh\nexec /bin/sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  native.Config
		is   error
		msg  string
	}{
		{"no name", native.Config{Binary: testPlugin}, native.ErrConfig, "name is required"},
		{"no binary", native.Config{Name: "x"}, native.ErrConfig, "binary is required"},
		{"missing binary", native.Config{Name: "x", Binary: "/nonexistent/plugin"}, native.ErrConfig, "no such file"},
		{"not executable", native.Config{Name: "x", Binary: notExec}, native.ErrConfig, "not an executable"},
		{"bad config JSON", native.Config{Name: "x", Binary: testPlugin, PluginConfig: []byte("{")}, native.ErrConfig, "not valid JSON"},
		{"bad env name", native.Config{Name: "x", Binary: testPlugin, Env: []string{"A=B"}}, native.ErrConfig, "not a variable name"},
		{"negative timeout", native.Config{Name: "x", Binary: testPlugin, Timeout: -1}, native.ErrConfig, "negative"},
		{"backoff order", native.Config{Name: "x", Binary: testPlugin, RestartBackoff: time.Second, MaxRestartBackoff: time.Millisecond}, native.ErrConfig, "below"},
		{"bad kind", native.Config{Name: "x", Binary: testPlugin, Kind: 4}, plugins.ErrBadKind, "bad kind"},
		{"not a plugin", native.Config{Name: "x", Binary: "/bin/true", StartTimeout: 5 * time.Second}, native.ErrStart, "plugin"},
		{"no handshake within start_timeout", native.Config{Name: "x", Binary: silent, StartTimeout: 300 * time.Millisecond}, native.ErrStart, "timeout"},
		{"init fails", native.Config{Name: "x", Binary: testPlugin, PluginConfig: modeConfig("fail")}, native.ErrStart, "init refused on purpose"},
		{"missing hook", native.Config{Name: "x", Binary: priceRouter, Kind: plugins.KindRedact, PluginConfig: priceConfig(pricesFile(t))}, native.ErrNoHook, `configured kind "redact"`},
		{"example without its file", native.Config{Name: "x", Binary: priceRouter}, native.ErrStart, "prices_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = (&logSink{}).logger()
			p, err := native.Load(context.Background(), tc.cfg)
			if err == nil {
				p.Close()
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Load error = %v; want %v containing %q", err, tc.is, tc.msg)
			}
		})
	}
}

// Killing the example's process under load (16 goroutines) loses no request
// beyond the policy: every call gets either the plugin's answer or exactly
// what on_error says, and the plugin comes back by itself.
func TestKillUnderLoad(t *testing.T) {
	for _, onError := range []plugins.OnError{plugins.OnErrorOpen, plugins.OnErrorClosed} {
		t.Run(onError.String(), func(t *testing.T) {
			var logs logSink
			p := load(t, native.Config{
				Name: "price", Binary: priceRouter, PluginConfig: priceConfig(pricesFile(t)),
				OnError: onError, Logger: logs.logger(),
			})
			// The load stops once the new process has answered; maxCalls
			// bounds it if it never does.
			const workers, maxCalls = 16, 400_000
			var (
				ok, failed, total atomic.Int64
				afterRestart      atomic.Int64
				restarted         atomic.Bool
				stop              atomic.Bool
				wrong             atomic.Pointer[string]
				wg                sync.WaitGroup
			)
			bad := func(s string) { wrong.CompareAndSwap(nil, &s) }
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ups := table()
					var dst []int
					// pace stands for what a request does after a plugin
					// failure (the upstream call): without it 16 goroutines
					// spinning on instant failures starve the restart of
					// both cores. It shapes the load; nothing waits on it.
					pace := time.NewTicker(time.Millisecond)
					defer pace.Stop()
					for range maxCalls / workers {
						if stop.Load() {
							return
						}
						total.Add(1)
						out, err := p.Route(context.Background(), &request, ups, dst[:0])
						dst = out
						switch {
						case err == nil && equalInts(out, []int{1, 2, 0}):
							ok.Add(1)
							if restarted.Load() {
								afterRestart.Add(1)
							}
						case err == nil && len(out) == 0 && onError == plugins.OnErrorOpen:
							failed.Add(1)
							<-pace.C
						case err != nil && onError == plugins.OnErrorClosed:
							var pe *plugins.Error
							if !errors.As(err, &pe) || pe.Status != 503 || pe.Code != "plugin_failed" ||
								!errors.Is(err, plugins.ErrPluginFailed) || !strings.HasPrefix(pe.Message, `routing plugin "price" failed: `) {
								bad("closed policy answered " + err.Error())
							}
							failed.Add(1)
							<-pace.C
						default:
							b, _ := json.Marshal(out)
							bad("answer " + string(b) + " err " + errString(err))
						}
					}
				}()
			}
			waitFor(t, "load to start", func() bool { return ok.Load() >= 200 })
			pid := p.PID()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the plugin to come back", func() bool {
				s := p.Stats()
				return s.Restarts == 1 && s.PID != 0 && s.PID != pid
			})
			restarted.Store(true)
			waitFor(t, "answers from the new process", func() bool { return afterRestart.Load() >= 200 || total.Load() >= maxCalls })
			stop.Store(true)
			wg.Wait()
			if w := wrong.Load(); w != nil {
				t.Fatal(*w)
			}
			if afterRestart.Load() == 0 {
				t.Fatal("no call succeeded after the restart")
			}
			if failed.Load() == 0 {
				t.Fatal("no call noticed the kill: the test did not test anything")
			}
			s := p.Stats()
			if s.Failures != uint64(failed.Load()) || s.Calls != uint64(total.Load()) {
				t.Fatalf("Stats = %+v; the test saw %d calls, %d failed", s, total.Load(), failed.Load())
			}
			if onError == plugins.OnErrorOpen && s.Skipped != s.Failures {
				t.Fatalf("Skipped = %d, want %d", s.Skipped, s.Failures)
			}
			if err := p.Healthy(); err != nil {
				t.Fatalf("Healthy after restart: %v", err)
			}
			if !strings.Contains(logs.String(), `"msg":"native plugin down; restarting"`) {
				t.Fatalf("no restart in the log:\n%s", logs.String())
			}
			t.Logf("%d calls, %d failed per policy, %d after the restart", total.Load(), failed.Load(), afterRestart.Load())
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// A plugin that never answers hits the per-call timeout, gets the policy,
// and is restarted after FailureThreshold timeouts in a row.
func TestHangHitsTimeout(t *testing.T) {
	p := load(t, native.Config{Binary: testPlugin, PluginConfig: modeConfig("hang"),
		Timeout: 50 * time.Millisecond, OnError: plugins.OnErrorClosed, Logger: (&logSink{}).logger()})
	ctx := context.Background()
	pid := p.PID()
	_, err := p.Route(ctx, &request, table(), nil)
	var pe *plugins.Error
	if !errors.As(err, &pe) || pe.Status != 503 || pe.Message != `routing plugin "test" failed: timed out` || !errors.Is(err, native.ErrTimeout) {
		t.Fatalf("Route = %v; want a 503 timeout", err)
	}
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	out, err := p.Redact(ctx, []byte("body"), nil, v)
	if !errors.As(err, &pe) || pe.Message != `redaction plugin "test" failed: timed out` || len(out) != 0 || v.Len() != 0 {
		t.Fatalf("Redact = %q, %v; want a 503 timeout and nothing written", out, err)
	}
	// The caller giving up is not the plugin's failure.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Route(cctx, &request, table(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Route with a cancelled ctx = %v; want context.Canceled", err)
	}
	for range native.FailureThreshold {
		p.Route(ctx, &request, table(), nil)
	}
	if err := p.Healthy(); err == nil {
		t.Fatal("Healthy after failures in a row: nil")
	}
	waitFor(t, "the stuck process to be replaced", func() bool {
		s := p.Stats()
		return s.Restarts >= 1 && s.PID != 0 && s.PID != pid
	})
	if s := p.Stats(); s.Timeouts < native.FailureThreshold || s.Skipped != 0 {
		t.Fatalf("Stats = %+v", s)
	}

	open := load(t, native.Config{Name: "open", Binary: testPlugin, PluginConfig: modeConfig("hang"),
		Timeout: 20 * time.Millisecond, Logger: (&logSink{}).logger()})
	if got, err := open.Route(ctx, &request, table(), []int{5}); err != nil || !equalInts(got, []int{5}) {
		t.Fatalf("open Route = %v, %v; want no opinion", got, err)
	}
	// Default policy for redact is closed.
	if _, err := open.Redact(ctx, []byte("body"), nil, v); !errors.Is(err, plugins.ErrPluginFailed) {
		t.Fatalf("default-policy Redact = %v; want a plugin_failed error", err)
	}
}

// The process gets only the environment variables the config lists (and
// go-plugin's handshake variables), never the router's secrets.
func TestEnvNotInherited(t *testing.T) {
	t.Setenv("SWITCHYARD_TEST_SECRET", "s3cret")
	t.Setenv("SWITCHYARD_TEST_ALLOWED", "yes")
	environ := func(allow []string) []string {
		p := load(t, native.Config{Binary: testPlugin, PluginConfig: modeConfig("env"), Env: allow, Logger: (&logSink{}).logger()})
		v := plugins.AcquireVault()
		defer plugins.ReleaseVault(v)
		out, err := p.Redact(context.Background(), []byte("x"), nil, v)
		if err != nil {
			t.Fatal(err)
		}
		var env []string
		if err := json.Unmarshal(out, &env); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		return env
	}
	check := func(env []string, want ...string) {
		t.Helper()
		for _, kv := range env {
			name, _, _ := strings.Cut(kv, "=")
			if contains(want, kv) || strings.HasPrefix(name, "PLUGIN_") || name == "SWITCHYARD_NATIVE_PLUGIN" {
				continue
			}
			t.Errorf("the plugin inherited %s", name)
		}
		for _, w := range want {
			if !contains(env, w) {
				t.Errorf("the plugin lacks %s; it has %v", w, env)
			}
		}
	}
	check(environ(nil))
	check(environ([]string{"SWITCHYARD_TEST_ALLOWED", "SWITCHYARD_TEST_UNSET"}), "SWITCHYARD_TEST_ALLOWED=yes")
}

// The plugin's stderr and stdout reach the router's log as whole lines,
// however they were written; over-long lines are cut and marked; request
// content never reaches the log from the host.
func TestOutputLines(t *testing.T) {
	var logs logSink
	p := load(t, native.Config{Binary: testPlugin, PluginConfig: modeConfig("output"), Logger: logs.logger()})
	waitFor(t, "the last test line", func() bool { return contains(logs.outputLines(t, "stderr"), "after the long line") })
	stderr := logs.outputLines(t, "stderr")
	for _, want := range []string{"first half second half", "via the log package"} {
		if !contains(stderr, want) {
			t.Errorf("stderr lines %q lack %q", stderr, want)
		}
	}
	if contains(stderr, "first half") || contains(stderr, "second half") {
		t.Errorf("a line was split: %q", stderr)
	}
	waitFor(t, "the stdout line", func() bool { return contains(logs.outputLines(t, "stdout"), "on stdout") })
	var long map[string]any
	for _, r := range logs.records(t) {
		if l, _ := r["line"].(string); strings.HasPrefix(l, "xxxx") {
			long = r
		}
	}
	if long == nil || len(long["line"].(string)) != 8<<10 || long["truncated"] != true || long["pid"] != float64(p.PID()) {
		t.Errorf("long line record = %v; want 8 KiB, truncated, with the pid", long)
	}

	// Calls that fail are logged without their content.
	secret := "my-secret-prompt bob@example.com"
	hang := load(t, native.Config{Name: "hang", Binary: testPlugin, PluginConfig: modeConfig("hang"),
		Timeout: 10 * time.Millisecond, Logger: logs.logger()})
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	hang.Redact(context.Background(), []byte(secret), nil, v)
	req := request
	req.Model = []byte(secret)
	hang.Route(context.Background(), &req, table(), nil)
	if !strings.Contains(logs.String(), "native plugin call failed") {
		t.Fatal("the failed calls were not logged")
	}
	if strings.Contains(logs.String(), "my-secret-prompt") {
		t.Fatal("request content reached the log")
	}
}

// Redact round trip: the placeholder numbering continues past the ones
// earlier redactors took; nothing matched leaves dst and the vault alone.
func TestRedact(t *testing.T) {
	p := load(t, native.Config{Binary: testPlugin, PluginConfig: modeConfig("first"), Logger: (&logSink{}).logger()})
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	v.Add([]byte("<EMAIL_1>"), []byte("alice@example.com"))
	out, err := p.Redact(context.Background(), []byte(`{"content":"mail bob@example.com"}`), []byte("pre:"), v)
	if err != nil || string(out) != `pre:{"content":"mail <EMAIL_2>"}` {
		t.Fatalf("Redact = %q, %v", out, err)
	}
	if o, ok := v.Lookup([]byte("<EMAIL_2>")); !ok || string(o) != "bob@example.com" || v.Len() != 2 {
		t.Fatalf("vault: %q %v, %d pairs", o, ok, v.Len())
	}
	out, err = p.Redact(context.Background(), []byte(`{"content":"nothing here"}`), []byte("pre:"), v)
	if err != nil || string(out) != "pre:" || v.Len() != 2 {
		t.Fatalf("Redact without a match = %q, %v, %d pairs; want dst unchanged", out, err, v.Len())
	}
}

// Close is safe twice, stops the process, and later calls get the policy.
func TestClose(t *testing.T) {
	p := load(t, native.Config{Binary: testPlugin, PluginConfig: modeConfig("first"), Logger: (&logSink{}).logger()})
	pid := p.PID()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed after Close with no call in flight")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d still there after Close: %v", pid, err)
	}
	if !errors.Is(p.Healthy(), native.ErrClosed) {
		t.Fatalf("Healthy = %v", p.Healthy())
	}
	if got, err := p.Route(context.Background(), &request, table(), nil); err != nil || len(got) != 0 {
		t.Fatalf("Route after Close = %v, %v; want no opinion (open)", got, err)
	}
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	if _, err := p.Redact(context.Background(), []byte("x"), nil, v); !errors.Is(err, native.ErrClosed) || !errors.Is(err, plugins.ErrPluginFailed) {
		t.Fatalf("Redact after Close = %v; want closed policy with ErrClosed", err)
	}
}

// A process that dies inside a call: that call gets the policy, and each
// crash is followed by a restart with a doubled backoff.
func TestCrashDuringCallBacksOff(t *testing.T) {
	var logs logSink
	p := load(t, native.Config{Binary: testPlugin, PluginConfig: modeConfig("crash"), OnError: plugins.OnErrorClosed,
		RestartBackoff: 20 * time.Millisecond, Logger: logs.logger()})
	for i := range 2 {
		waitFor(t, "a running process", func() bool { return p.PID() != 0 })
		_, err := p.Route(context.Background(), &request, table(), nil)
		var pe *plugins.Error
		if !errors.As(err, &pe) || pe.Message != `routing plugin "test" failed: process not running` {
			t.Fatalf("Route into a crash = %v", err)
		}
		waitFor(t, "the restart", func() bool { return p.Stats().Restarts == uint64(i+1) })
	}
	var backoffs []string
	for _, r := range logs.records(t) {
		if r["msg"] == "native plugin down; restarting" {
			backoffs = append(backoffs, r["backoff"].(string))
		}
	}
	if len(backoffs) != 2 || backoffs[0] != "20ms" || backoffs[1] != "40ms" {
		t.Fatalf("restart backoffs = %v; want [20ms 40ms]", backoffs)
	}
}

// Same tells a reload which plugins to keep: same settings and the same
// binary file.
func TestSame(t *testing.T) {
	bin := t.TempDir() + "/plugin"
	b, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := native.Config{Name: "same", Binary: bin, PluginConfig: modeConfig("first"), Env: []string{"A"}, Logger: (&logSink{}).logger()}
	p := load(t, cfg)
	other := cfg
	other.Logger = nil
	if !p.Same(other) {
		t.Fatal("Same with only the logger changed = false")
	}
	other.Timeout = time.Second
	if p.Same(other) {
		t.Fatal("Same with another timeout = true")
	}
	other = cfg
	other.PluginConfig = modeConfig("env")
	if p.Same(other) {
		t.Fatal("Same with another plugin config = true")
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	if p.Same(cfg) {
		t.Fatal("Same after the binary changed = true")
	}
}
