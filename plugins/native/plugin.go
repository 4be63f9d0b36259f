// Package native runs Switchyard plugins out of process, behind the same
// plugins.Router and plugins.Redactor interfaces as Wasm plugins, over
// hashicorp/go-plugin's gRPC transport. It is for logic a sandbox must not
// run: calling a policy service, reading a database, native libraries.
//
// A Plugin owns one plugin process: Load starts it (go-plugin's handshake,
// then the plugin's Init with its config), a supervisor pings it and
// restarts it with backoff when it dies, and Close stops it. Every call has
// a timeout, and every failure — a crash under the call, a hang, a process
// that is down, a malformed answer — gets the plugin's on_error policy.
// Plugin processes are written with package plugins/native/sdk.
//
// Native plugins are never on the zero-allocation path: a call is a gRPC
// round trip over a local socket.
package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native/internal/wire"
)

// Plugin is one native plugin and its process. It implements
// plugins.Router and plugins.Redactor with the on_error policy applied:
// a failed call returns (dst, nil) when the policy is open and a 503
// *plugins.Error when it is closed; a call whose ctx ended returns ctx.Err().
// Safe for concurrent use; Close stops the process once the calls in flight
// have returned.
type Plugin struct {
	cfg   Config
	stamp binaryStamp // the binary file at Load, for Same
	env   []string
	log   *slog.Logger
	kinds plugins.Kind

	ctx    context.Context // cancelled when the plugin is destroyed: aborts a restart's Init
	cancel context.CancelFunc

	cur  atomic.Pointer[proc] // nil while the process is down
	kick chan struct{}        // a call saw the transport fail: check now
	stop chan struct{}        // closed when the last reference is gone
	wg   sync.WaitGroup       // the supervisor

	// refs counts the owner (1) plus calls in flight; the process is
	// stopped when it drops to 0. The same scheme as plugins/wasm.
	refs   atomic.Int64
	closed atomic.Bool
	done   chan struct{}

	streak        atomic.Int32 // failed calls in a row
	timeoutStreak atomic.Int32 // timed-out calls in a row
	calls         atomic.Uint64
	fails         atomic.Uint64
	timeouts      atomic.Uint64
	skipped       atomic.Uint64
	restarts      atomic.Uint64
	startFails    atomic.Uint64
	logLimit      everySecond
}

// everySecond allows one event per second; safe for concurrent use.
type everySecond struct{ last atomic.Int64 }

func (e *everySecond) allow() bool {
	now := time.Now().UnixNano()
	last := e.last.Load()
	return now-last >= int64(time.Second) && e.last.CompareAndSwap(last, now)
}

// Load validates cfg, starts the plugin process and calls its Init with
// cfg.PluginConfig. A binary that does not start, fails the handshake, fails
// Init or lacks a configured hook is refused with an error saying why, and
// nothing is left running.
func Load(ctx context.Context, cfg Config) (*Plugin, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	stamp, _ := stampOf(cfg.Binary)
	p := &Plugin{
		cfg:   cfg,
		stamp: stamp,
		env:   cfg.environ(),
		log:   cfg.Logger.With("plugin", cfg.Name, "native", cfg.Binary),
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	pr, err := p.start(ctx)
	if err != nil {
		return nil, err
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.kinds = pr.kinds
	if cfg.Kind != 0 {
		p.kinds = cfg.Kind
	}
	p.cur.Store(pr)
	p.refs.Store(1)
	p.wg.Add(1)
	go p.supervise(pr)
	p.log.Info("native plugin started", "pid", pr.pid, "module", pr.name, "version", pr.version,
		"kinds", p.kinds.String(), "on_error", cfg.OnError.String(), "timeout", cfg.Timeout.String())
	return p, nil
}

// Same reports whether p already serves cfg: the same settings (the logger
// aside) and the same binary file (size and modification time) as at Load.
// A config reload keeps a plugin that is Same and replaces the others: Load
// the new one, swap, Close the old.
func (p *Plugin) Same(cfg Config) bool {
	n, err := cfg.normalize()
	if err != nil || !p.cfg.sameAs(&n) {
		return false
	}
	st, ok := stampOf(n.Binary)
	return ok && st.size == p.stamp.size && st.mtime.Equal(p.stamp.mtime)
}

// Name returns the configured name.
func (p *Plugin) Name() string { return p.cfg.Name }

// Kinds returns the hooks this plugin serves.
func (p *Plugin) Kinds() plugins.Kind { return p.kinds }

// OnError returns the plugin's failure policy.
func (p *Plugin) OnError() plugins.OnError { return p.cfg.OnError }

// PID returns the running process's id, or 0 while it is down.
func (p *Plugin) PID() int {
	if pr := p.cur.Load(); pr != nil {
		return pr.pid
	}
	return 0
}

// Healthy returns an error when the plugin is closed, its process is down
// (being restarted), or its last FailureThreshold calls all failed; /readyz
// reports it.
func (p *Plugin) Healthy() error {
	switch {
	case p.closed.Load():
		return fmt.Errorf("plugin %q: %w", p.cfg.Name, ErrClosed)
	case p.cur.Load() == nil:
		return fmt.Errorf("plugin %q: %w (restarting)", p.cfg.Name, ErrNotRunning)
	}
	if n := p.streak.Load(); n >= FailureThreshold {
		return fmt.Errorf("native: plugin %q failed %d calls in a row", p.cfg.Name, n)
	}
	return nil
}

// Stats is a plugin's counters since Load, for metrics and the admin API.
type Stats struct {
	Name          string
	Module        string // what the running process reports, "" while down
	Version       string
	Kinds         plugins.Kind
	PID           int // 0 while down
	Healthy       bool
	Calls         uint64 // Route and Redact calls
	Failures      uint64 // calls that failed (each got the policy)
	Timeouts      uint64 // of the failures, those that hit Config.Timeout
	Skipped       uint64 // failures answered "no opinion" by on_error open
	Restarts      uint64 // processes started after the first
	StartFailures uint64 // restarts that failed (and were retried)
}

// Stats returns the plugin's counters.
func (p *Plugin) Stats() Stats {
	s := Stats{
		Name: p.cfg.Name, Kinds: p.kinds, Healthy: p.Healthy() == nil,
		Calls: p.calls.Load(), Failures: p.fails.Load(), Timeouts: p.timeouts.Load(),
		Skipped: p.skipped.Load(), Restarts: p.restarts.Load(), StartFailures: p.startFails.Load(),
	}
	if pr := p.cur.Load(); pr != nil {
		s.Module, s.Version, s.PID = pr.name, pr.version, pr.pid
	}
	return s
}

// Close stops the process once the calls in flight have returned: new calls
// get the on_error policy. It returns when the process is gone unless calls
// are still in flight (then Done tells when). Safe to call more than once.
func (p *Plugin) Close() error {
	if p.closed.CompareAndSwap(false, true) {
		if p.refs.Add(-1) == 0 {
			p.destroy()
		}
	}
	return nil
}

// Done is closed when the process has been stopped after Close.
func (p *Plugin) Done() <-chan struct{} { return p.done }

func (p *Plugin) acquire() bool {
	for {
		n := p.refs.Load()
		if n <= 0 {
			return false
		}
		if p.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (p *Plugin) release() {
	if p.refs.Add(-1) == 0 {
		// The last call after Close: stop the process off the request's
		// goroutine, a graceful stop can take seconds.
		go p.destroy()
	}
}

func (p *Plugin) destroy() {
	p.cancel()
	close(p.stop)
	p.wg.Wait()
	close(p.done)
}

// running returns the process for one call of hook; the caller holds a
// reference.
func (p *Plugin) running(hook plugins.Kind) (*proc, error) {
	if p.kinds&hook == 0 {
		return nil, ErrNoHook
	}
	if pr := p.cur.Load(); pr != nil {
		return pr, nil
	}
	return nil, ErrNotRunning
}

// succeeded resets the failure streaks.
func (p *Plugin) succeeded() {
	if p.streak.Load() != 0 {
		p.streak.Store(0)
	}
	if p.timeoutStreak.Load() != 0 {
		p.timeoutStreak.Store(0)
	}
}

// failed counts a failed call, wakes the supervisor when the process looks
// dead or stuck, and applies the policy: nil (no opinion) or a 503
// *plugins.Error. A call whose ctx ended is the caller's doing: ctx.Err().
func (p *Plugin) failed(ctx context.Context, hook plugins.Kind, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	p.fails.Add(1)
	n := p.streak.Add(1)
	switch {
	case errors.Is(err, ErrTimeout):
		p.timeouts.Add(1)
		if p.timeoutStreak.Add(1) >= FailureThreshold {
			p.wake()
		}
	case errors.Is(err, ErrUnavailable):
		p.wake()
	}
	if n == FailureThreshold || (n == 1 && p.logLimit.allow()) {
		// The one that makes the plugin unhealthy, and the first of a
		// streak at most once a second; never the request or the guest's
		// message.
		p.log.Warn("native plugin call failed", "hook", hook.String(), "err", err.Error(), "in_a_row", n)
	}
	if p.cfg.OnError.Closed(hook) {
		return plugins.Failed(hook, p.cfg.Name, reason(err), err)
	}
	p.skipped.Add(1)
	return nil
}

func (p *Plugin) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Route implements plugins.Router: one gRPC call with the request view and
// the upstream table. Indices outside the table fail the call; duplicates
// are dropped.
func (p *Plugin) Route(ctx context.Context, req *plugins.Request, ups []plugins.Upstream, dst []int) ([]int, error) {
	p.calls.Add(1)
	if !p.acquire() {
		return dst, p.failed(ctx, plugins.KindRoute, ErrClosed)
	}
	defer p.release()
	pr, err := p.running(plugins.KindRoute)
	if err != nil {
		return dst, p.failed(ctx, plugins.KindRoute, err)
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	resp, err := pr.rpc.Route(cctx, routeRequest(req, ups))
	if err != nil {
		err = classify(cctx, err)
	}
	cancel()
	if err != nil {
		return dst, p.failed(ctx, plugins.KindRoute, err)
	}
	start := len(dst)
outer:
	for _, idx := range resp.Indices {
		if idx >= uint32(len(ups)) {
			return dst[:start], p.failed(ctx, plugins.KindRoute, &callError{kind: ErrBadOutput})
		}
		for _, d := range dst[start:] {
			if d == int(idx) {
				continue outer
			}
		}
		dst = append(dst, int(idx))
	}
	p.succeeded()
	return dst, nil
}

func routeRequest(req *plugins.Request, ups []plugins.Upstream) *wire.RouteRequest {
	in := &wire.RouteRequest{
		Model: req.Model, Tenant: req.Tenant, Path: req.Path, Pop: req.PoP, Region: req.Region,
		Stream: req.Stream, Deterministic: req.Deterministic, PromptTokens: req.PromptTokens,
	}
	if len(req.Headers) > 0 {
		hs := make([]wire.Header, len(req.Headers))
		in.Headers = make([]*wire.Header, len(req.Headers))
		for i, h := range req.Headers {
			hs[i].Name, hs[i].Value = h.Name, h.Value
			in.Headers[i] = &hs[i]
		}
	}
	us := make([]wire.Upstream, len(ups))
	in.Upstreams = make([]*wire.Upstream, len(ups))
	for i := range ups {
		u, w := &ups[i], &us[i]
		w.Name, w.Provider, w.Region, w.Healthy = u.Name, u.Provider, u.Region, u.Healthy
		w.LatencyUs, w.TtfbUs, w.InFlight, w.ErrorRate = u.LatencyUS, u.TTFBUS, u.InFlight, u.ErrorRate
		w.PriceIn, w.PriceOut, w.Weight = u.PriceIn, u.PriceOut, u.Weight
		in.Upstreams[i] = w
	}
	return in
}

// Redact implements plugins.Redactor: one gRPC call with the body and the
// placeholders v already holds. Nothing is appended to dst or v unless the
// whole answer is valid: every placeholder non-empty, and none that v (or
// the answer itself) already maps to another original.
func (p *Plugin) Redact(ctx context.Context, body, dst []byte, v *plugins.Vault) ([]byte, error) {
	p.calls.Add(1)
	if !p.acquire() {
		return dst, p.failed(ctx, plugins.KindRedact, ErrClosed)
	}
	defer p.release()
	pr, err := p.running(plugins.KindRedact)
	if err != nil {
		return dst, p.failed(ctx, plugins.KindRedact, err)
	}
	in := &wire.RedactRequest{Body: body}
	if v.Len() > 0 {
		in.Taken = make([][]byte, v.Len())
		for i := range in.Taken {
			in.Taken[i], _ = v.Pair(i)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	resp, err := pr.rpc.Redact(cctx, in)
	if err != nil {
		err = classify(cctx, err)
	}
	cancel()
	if err != nil {
		return dst, p.failed(ctx, plugins.KindRedact, err)
	}
	if !resp.Changed {
		p.succeeded()
		return dst, nil
	}
	if !validPairs(resp, v) {
		return dst, p.failed(ctx, plugins.KindRedact, &callError{kind: ErrBadOutput})
	}
	dst = append(dst, resp.Body...)
	for _, pair := range resp.Pairs {
		v.Add(pair.Placeholder, pair.Original)
	}
	p.succeeded()
	return dst, nil
}

func validPairs(resp *wire.RedactResponse, v *plugins.Vault) bool {
	if len(resp.Body) == 0 {
		return false // "changed" to nothing cannot be told from "unchanged"
	}
	for i, pair := range resp.Pairs {
		if pair == nil || len(pair.Placeholder) == 0 {
			return false
		}
		if o, ok := v.Lookup(pair.Placeholder); ok && !bytes.Equal(o, pair.Original) {
			return false
		}
		for _, q := range resp.Pairs[:i] {
			if bytes.Equal(q.Placeholder, pair.Placeholder) && !bytes.Equal(q.Original, pair.Original) {
				return false
			}
		}
	}
	return true
}

var (
	_ plugins.Router   = (*Plugin)(nil)
	_ plugins.Redactor = (*Plugin)(nil)
)
