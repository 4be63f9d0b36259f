package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

var _ plugins.Host = (*Set)(nil)

// ErrSetClosed is returned by Reload on a closed Set.
var ErrSetClosed = errors.New("wasm: plugin set closed")

// maxSwapRetries bounds how often one call re-reads the set after racing
// with a reload.
const maxSwapRetries = 8

// Set owns every configured plugin: it builds the routing and redaction
// chains tenants use, applies each plugin's on_error policy, watches the
// plugin files and swaps in a changed module atomically. A module that fails
// to load is refused and the one before keeps serving. Safe for concurrent
// use.
type Set struct {
	opts  Options
	log   *slog.Logger
	state atomic.Pointer[setState]

	mu     sync.Mutex // serialises reloads
	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// setState is one immutable generation of the set. Chains compare pointers
// to notice a reload.
type setState struct {
	entries []*entry // config order
}

// entry is one configured plugin in one generation.
type entry struct {
	cfg    Config
	plugin *Plugin
	size   int64 // file size and modification time at load
	mtime  time.Time
	// bad remembers a file version that failed to load, so that the watcher
	// logs it once and retries only when the file changes again.
	badSize  int64
	badMtime time.Time
	skipped  *atomic.Uint64 // calls skipped by on_error: open; shared across reloads
}

// NewSet loads every plugin in ps (in config order) and starts watching their
// files. It fails, closing what it loaded, if any plugin fails to load.
func NewSet(ctx context.Context, ps []Config, opts Options) (*Set, error) {
	s := &Set{opts: opts, log: opts.Logger, stop: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
		s.opts.Logger = s.log
	}
	st, err := s.build(ctx, ps, &setState{})
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	interval := opts.PollInterval
	if interval == 0 {
		interval = time.Second
	}
	if interval > 0 {
		s.wg.Add(1)
		go s.watch(interval)
	}
	return s, nil
}

// build loads a new generation for ps, reusing the plugins of old whose
// config and file are unchanged. On error it closes what it loaded.
func (s *Set) build(ctx context.Context, ps []Config, old *setState) (*setState, error) {
	st := &setState{}
	var loaded []*Plugin
	fail := func(err error) (*setState, error) {
		for _, p := range loaded {
			p.Close()
		}
		return nil, err
	}
	for _, c := range ps {
		if prev := old.find(c.Name); prev != nil && sameEntry(prev, c) {
			e := *prev
			st.entries = append(st.entries, &e)
			continue
		}
		e, err := s.load(ctx, c)
		if err != nil {
			return fail(err)
		}
		if prev := old.find(c.Name); prev != nil {
			e.skipped = prev.skipped
		}
		loaded = append(loaded, e.plugin)
		st.entries = append(st.entries, e)
	}
	return st, nil
}

func (s *Set) load(ctx context.Context, c Config) (*entry, error) {
	fi, err := os.Stat(c.Wasm)
	if err != nil {
		return nil, fmt.Errorf("wasm: plugin %q: %w", c.Name, err)
	}
	p, err := Load(ctx, c, s.opts)
	if err != nil {
		return nil, err
	}
	return &entry{cfg: c, plugin: p, size: fi.Size(), mtime: fi.ModTime(), skipped: new(atomic.Uint64)}, nil
}

// sameEntry reports whether e was loaded from config c and its file has not
// changed since (size and modification time).
func sameEntry(e *entry, c Config) bool {
	if !reflect.DeepEqual(e.cfg, c) {
		return false
	}
	fi, err := os.Stat(c.Wasm)
	return err == nil && fi.Size() == e.size && fi.ModTime().Equal(e.mtime)
}

func (st *setState) find(name string) *entry {
	for _, e := range st.entries {
		if e.cfg.Name == name {
			return e
		}
	}
	return nil
}

// swap publishes st and closes the plugins of old that st does not use; each
// closes once its calls in flight have returned.
func (s *Set) swap(st *setState) {
	old := s.state.Swap(st)
	if old == nil {
		return
	}
	for _, e := range old.entries {
		if st.usesPlugin(e.plugin) {
			continue
		}
		e.plugin.Close()
	}
}

func (st *setState) usesPlugin(p *Plugin) bool {
	for _, e := range st.entries {
		if e.plugin == p {
			return true
		}
	}
	return false
}

// Reload applies a new plugin config: changed or new plugins are loaded and
// prewarmed, then the new set is swapped in atomically; removed and replaced
// plugins close after their calls in flight. If any plugin fails to load,
// nothing changes and the error says which.
func (s *Set) Reload(ps []Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrSetClosed
	}
	st, err := s.build(context.Background(), ps, s.state.Load())
	if err != nil {
		return err
	}
	s.swap(st)
	return nil
}

// ReloadChangedFiles reloads every plugin whose file changed (size or
// modification time) since it was loaded. A file that fails to load is
// refused and logged once; its old module keeps serving. The watcher calls it
// every Options.PollInterval; it returns the errors of this round.
func (s *Set) ReloadChangedFiles() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrSetClosed
	}
	cur := s.state.Load()
	var next *setState
	var errs []error
	for i, e := range cur.entries {
		fi, err := os.Stat(e.cfg.Wasm)
		if err != nil || (fi.Size() == e.size && fi.ModTime().Equal(e.mtime)) ||
			(fi.Size() == e.badSize && fi.ModTime().Equal(e.badMtime)) {
			continue
		}
		ne, err := s.load(context.Background(), e.cfg)
		if next == nil {
			next = &setState{entries: append([]*entry(nil), cur.entries...)}
		}
		if err != nil {
			s.log.Error("plugin file changed but does not load; the old module keeps serving",
				"plugin", e.cfg.Name, "file", e.cfg.Wasm, "err", err)
			errs = append(errs, err)
			s.notify(e.cfg.Name, err)
			bad := *e
			bad.badSize, bad.badMtime = fi.Size(), fi.ModTime()
			next.entries[i] = &bad
			continue
		}
		ne.skipped = e.skipped
		s.log.Info("plugin reloaded", "plugin", e.cfg.Name, "version", ne.plugin.Version())
		next.entries[i] = ne
	}
	if next != nil {
		s.swap(next)
		for i, e := range next.entries {
			if e != cur.entries[i] && e.plugin != cur.entries[i].plugin {
				s.notify(e.cfg.Name, nil)
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Set) notify(name string, err error) {
	if s.opts.OnReload != nil {
		s.opts.OnReload(name, err)
	}
}

func (s *Set) watch(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.ReloadChangedFiles() // logged inside
		}
	}
}

// Healthy returns an error naming every plugin that failed its last
// FailureThreshold calls in a row; /readyz reports it.
func (s *Set) Healthy() error {
	st := s.state.Load()
	if st == nil || s.closed.Load() {
		return ErrSetClosed
	}
	var errs []error
	for _, e := range st.entries {
		if err := e.plugin.Healthy(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats implements plugins.Host: it appends a snapshot of every plugin's
// counters, in config order.
func (s *Set) Stats(dst []plugins.Stats) []plugins.Stats {
	st := s.state.Load()
	if st == nil {
		return dst
	}
	for _, e := range st.entries {
		ps := e.plugin.Stats()
		ps.Skipped = e.skipped.Load()
		dst = append(dst, ps)
	}
	return dst
}

// Plugins returns the plugins currently serving, in config order. They stay
// valid until the next reload.
func (s *Set) Plugins() []*Plugin {
	st := s.state.Load()
	out := make([]*Plugin, 0, len(st.entries))
	for _, e := range st.entries {
		out = append(out, e.plugin)
	}
	return out
}

// Close stops the watcher and closes every plugin (each once its calls in
// flight have returned). Safe to call more than once.
func (s *Set) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.state.Swap(&setState{}); st != nil {
		for _, e := range st.entries {
			e.plugin.Close()
		}
	}
	return nil
}

// Router returns the routing chain for a tenant: the route plugins among
// tenantPlugins (all when empty), in config order. Build it once per tenant
// and keep it: it follows reloads, and its calls allocate nothing. The first plugin with an
// opinion wins; a failing plugin is skipped (on_error open) or fails the
// request with a 503 *plugins.Error (closed). The chain follows reloads.
func (s *Set) Router(tenantPlugins []string) plugins.RouteChain {
	return &chain{s: s, names: append([]string(nil), tenantPlugins...), hook: plugins.KindRoute}
}

// Redactor returns the redaction chain for a tenant: the redact plugins among
// tenantPlugins (all when empty), applied in config order, each to the
// output of the one before, with the same policy as Router.
func (s *Set) Redactor(tenantPlugins []string) plugins.RedactChain {
	return &chain{s: s, names: append([]string(nil), tenantPlugins...), hook: plugins.KindRedact}
}

// chain is a tenant's view of one hook across the set's generations. It
// caches the entries it resolved for the generation it last saw, so a call
// allocates nothing unless a reload happened.
type chain struct {
	s     *Set
	fixed *setState // a Generation's chain: this state, never the set's newest
	names []string
	hook  plugins.Kind
	cache atomic.Pointer[resolved]
}

type resolved struct {
	state   *setState
	entries []*entry
}

// Empty reports whether the chain has no plugin for its hook right now, so
// the router can skip the stage (and, for routing, building the upstream
// table) entirely. It follows reloads like the calls do.
func (c *chain) Empty() bool { return len(c.resolve()) == 0 }

func (c *chain) resolve() []*entry {
	st := c.fixed
	if st == nil {
		st = c.s.state.Load()
	}
	if r := c.cache.Load(); r != nil && r.state == st {
		return r.entries
	}
	r := &resolved{state: st}
	for _, e := range st.entries {
		if e.plugin.Kinds()&c.hook == 0 || !c.wants(e.cfg.Name) {
			continue
		}
		r.entries = append(r.entries, e)
	}
	c.cache.Store(r)
	return r.entries
}

func (c *chain) wants(name string) bool {
	if len(c.names) == 0 {
		return true
	}
	for _, n := range c.names {
		if n == name {
			return true
		}
	}
	return false
}

// acquire takes a reference on every plugin of the current generation, so
// none closes under the call; it re-reads the set if a reload raced with it.
func (c *chain) acquire() ([]*entry, error) {
	for range maxSwapRetries {
		es := c.resolve()
		ok := true
		for i, e := range es {
			if !e.plugin.acquire() {
				for _, a := range es[:i] {
					a.plugin.release()
				}
				ok = false
				break
			}
		}
		if ok {
			return es, nil
		}
	}
	return nil, ErrClosed
}

func releaseAll(es []*entry) {
	for _, e := range es {
		e.plugin.release()
	}
}

// policy turns a plugin failure into the request's answer: nil (skip the
// plugin) or a 503 *plugins.Error.
func (c *chain) policy(ctx context.Context, e *entry, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if e.plugin.OnError().Closed(c.hook) {
		return plugins.Failed(c.hook, e.plugin.Name(), Reason(err), err)
	}
	e.skipped.Add(1)
	return nil
}

func (c *chain) Route(ctx context.Context, req *plugins.Request, ups []plugins.Upstream, dst []int) ([]int, error) {
	es, err := c.acquire()
	if err != nil {
		return dst, err
	}
	defer releaseAll(es)
	start := len(dst)
	for _, e := range es {
		out, err := e.plugin.Route(ctx, req, ups, dst)
		if err != nil {
			if err := c.policy(ctx, e, err); err != nil {
				return dst[:start], err
			}
			continue
		}
		if len(out) > start {
			return out, nil
		}
	}
	return dst, nil
}

func (c *chain) Redact(ctx context.Context, body, dst []byte, v *plugins.Vault) ([]byte, error) {
	es, err := c.acquire()
	if err != nil {
		return dst, err
	}
	defer releaseAll(es)
	start := len(dst)
	cur, changed := body, false
	for _, e := range es {
		mark := len(dst)
		out, err := e.plugin.Redact(ctx, cur, dst, v)
		if err != nil {
			if err := c.policy(ctx, e, err); err != nil {
				return dst[:start], err
			}
			continue
		}
		if len(out) > mark {
			// The next redactor reads this output and appends after it;
			// cur stays valid even if dst is reallocated.
			dst, cur, changed = out, out[mark:], true
		}
	}
	if !changed {
		return dst[:start], nil
	}
	// Only the last version stays: move it down to start.
	n := copy(dst[start:], cur)
	return dst[:start+n], nil
}
