package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native"
	"github.com/switchyard-dev/switchyard/plugins/wasm"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

// pluginHost is the process's plugin runtime: one wasm.Set for every Wasm
// plugin, and the native plugins' processes. Each config generation gets its
// own fixed chains (Chains); unchanged modules and processes are shared
// between generations.
type pluginHost struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	set     *wasm.Set
	natives map[string]*nativeRef // by plugin name
	closed  bool
}

// nativeRef is one running native plugin and the generations using it.
type nativeRef struct {
	cfg  native.Config
	p    *native.Plugin
	refs int
}

func newPluginHost(o Options) *pluginHost {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return &pluginHost{opts: o, log: log, natives: map[string]*nativeRef{}}
}

// WasmConfigs maps the YAML's Wasm plugins onto the host's package-local
// configs. Fields the YAML leaves out stay zero, so their defaults are
// plugins/wasm's; kind and on_error are parsed here, once.
func WasmConfigs(cfg *config.Config) ([]wasm.Config, error) {
	var out []wasm.Config
	for i, p := range cfg.Plugins {
		if p.Native != "" {
			continue
		}
		c := wasm.Config{Name: p.Name, Wasm: p.Wasm, BaseFuel: p.MaxFuel, MaxMemory: int64(p.MaxMemory),
			PoolSize: p.PoolSize, MaxCalls: p.MaxCalls}
		var err error
		if c.Kind, c.OnError, err = kindAndPolicy(p); err != nil {
			return nil, fmt.Errorf("plugins[%d]: %w", i, err)
		}
		if c.InitConfig, err = cfg.PluginConfigJSON(i); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func kindAndPolicy(p config.Plugin) (plugins.Kind, plugins.OnError, error) {
	var k plugins.Kind
	var err error
	if p.Kind != "" {
		if k, err = plugins.ParseKind(p.Kind); err != nil {
			return 0, 0, err
		}
	}
	o, err := plugins.ParseOnError(p.OnError)
	return k, o, err
}

func (h *pluginHost) nativeConfig(cfg *config.Config, i int) (native.Config, error) {
	p := cfg.Plugins[i]
	k, o, err := kindAndPolicy(p)
	if err != nil {
		return native.Config{}, fmt.Errorf("plugins[%d]: %w", i, err)
	}
	js, err := cfg.PluginConfigJSON(i)
	if err != nil {
		return native.Config{}, err
	}
	return native.Config{Name: p.Name, Kind: k, Binary: p.Native, OnError: o, Timeout: p.Timeout,
		Env: p.Env, PluginConfig: js, Logger: h.log}, nil
}

// Chains builds one generation's chains for cfg's plugins, in config order.
func (h *pluginHost) Chains(ctx context.Context, cfg *config.Config) (router.Chains, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("wire: plugin host closed")
	}
	g := &generation{h: h}
	wcs, err := WasmConfigs(cfg)
	if err != nil {
		return nil, err
	}
	if len(wcs) > 0 || h.set != nil {
		if h.set == nil {
			if h.set, err = wasm.NewSet(ctx, nil, wasm.Options{CacheDir: h.opts.PluginCacheDir, Logger: h.opts.Logger,
				PollInterval: h.opts.PluginPoll, OnReload: h.fileChanged}); err != nil {
				return nil, err
			}
		}
		if g.wasm, err = h.set.Build(ctx, wcs); err != nil {
			return nil, err
		}
	}
	for i, p := range cfg.Plugins {
		if p.Native == "" {
			g.order = append(g.order, link{name: p.Name})
			continue
		}
		nc, err := h.nativeConfig(cfg, i)
		if err != nil {
			g.closeLocked()
			return nil, err
		}
		ref := h.natives[p.Name]
		if ref == nil || !ref.p.Same(nc) {
			np, err := native.Load(ctx, nc)
			if err != nil {
				g.closeLocked()
				return nil, err
			}
			ref = &nativeRef{cfg: nc, p: np}
			h.natives[p.Name] = ref // an older ref stays with its generations
		}
		ref.refs++
		g.natives = append(g.natives, ref)
		g.order = append(g.order, link{name: p.Name, native: ref.p})
	}
	return g, nil
}

// fileChanged runs when the Set loaded a changed plugin file: generations
// keep the modules they were built with, so the router builds the next one
// (Options.OnPluginChange). Called with the Set's lock held: the rebuild,
// which takes it too, runs on its own goroutine.
func (h *pluginHost) fileChanged(plugin string, err error) {
	if err == nil && h.opts.OnPluginChange != nil {
		go h.opts.OnPluginChange()
	}
}

func (h *pluginHost) Healthy() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	if h.set != nil {
		errs = append(errs, h.set.Healthy())
	}
	for _, r := range h.natives {
		errs = append(errs, r.p.Healthy())
	}
	return errors.Join(errs...)
}

func (h *pluginHost) AppendMetrics(b []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set == nil {
		return b
	}
	return plugins.AppendMetrics(b, h.set.Stats(nil))
}

func (h *pluginHost) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	for _, r := range h.natives {
		r.p.Close()
	}
	if h.set != nil {
		return h.set.Close()
	}
	return nil
}

// generation is one config generation's chains.
type generation struct {
	h       *pluginHost
	wasm    *wasm.Generation
	natives []*nativeRef
	order   []link // every plugin, config order
	closed  bool
}

// link is one plugin in config order: a native one, or a Wasm one by name.
type link struct {
	name   string
	native *native.Plugin
}

func (g *generation) Router(names []string) plugins.Router {
	ls := g.links(names, plugins.KindRoute)
	switch {
	case len(ls) == 0:
		return nil
	case len(ls) == 1 && ls[0] != nil && !isNative(ls[0]):
		return ls[0].(plugins.Router)
	}
	return &routeChain{links: ls}
}

func (g *generation) Redactor(names []string) plugins.Redactor {
	ls := g.links(names, plugins.KindRedact)
	switch {
	case len(ls) == 0:
		return nil
	case len(ls) == 1 && !isNative(ls[0]):
		return ls[0].(plugins.Redactor)
	}
	return &redactChain{links: ls}
}

func isNative(x any) bool { _, ok := x.(*native.Plugin); return ok }

// links returns, for the tenant's plugin names (all when empty), one element
// per plugin serving hook, in config order: a native plugin, or a Wasm chain
// of consecutive Wasm plugins (which keeps the Wasm host's zero-allocation
// path for all-Wasm configs).
func (g *generation) links(names []string, hook plugins.Kind) []any {
	var out []any
	var run []string // consecutive Wasm plugins
	flush := func() {
		if len(run) == 0 || g.wasm == nil {
			return
		}
		if hook == plugins.KindRoute {
			if r := g.wasm.Router(run); !r.Empty() {
				out = append(out, r)
			}
		} else if r := g.wasm.Redactor(run); !r.Empty() {
			out = append(out, r)
		}
		run = nil
	}
	for _, l := range g.order {
		if len(names) > 0 && !slices.Contains(names, l.name) {
			continue
		}
		if l.native == nil {
			run = append(run, l.name)
			continue
		}
		flush()
		if l.native.Kinds().Has(hook) {
			out = append(out, l.native)
		}
	}
	flush()
	return out
}

func (g *generation) Close() error {
	g.h.mu.Lock()
	defer g.h.mu.Unlock()
	g.closeLocked()
	return nil
}

func (g *generation) closeLocked() {
	if g.closed {
		return
	}
	g.closed = true
	if g.wasm != nil {
		g.wasm.Close()
	}
	for _, r := range g.natives {
		if r.refs--; r.refs == 0 {
			r.p.Close()
			if g.h.natives[r.cfg.Name] == r {
				delete(g.h.natives, r.cfg.Name)
			}
		}
	}
}

// routeChain asks each link in order; the first with an opinion wins. Each
// link applies its own on_error policy (a fail-closed one returns the error).
type routeChain struct{ links []any }

func (c *routeChain) Route(ctx context.Context, req *plugins.Request, ups []plugins.Upstream, dst []int) ([]int, error) {
	start := len(dst)
	for _, l := range c.links {
		out, err := l.(plugins.Router).Route(ctx, req, ups, dst)
		if err != nil {
			return dst[:start], err
		}
		if len(out) > start {
			return out, nil
		}
	}
	return dst, nil
}

// redactChain applies each link to the output of the one before.
type redactChain struct{ links []any }

func (c *redactChain) Redact(ctx context.Context, body, dst []byte, v *plugins.Vault) ([]byte, error) {
	start := len(dst)
	cur, changed := body, false
	for _, l := range c.links {
		mark := len(dst)
		out, err := l.(plugins.Redactor).Redact(ctx, cur, dst, v)
		if err != nil {
			return dst[:start], err
		}
		if len(out) > mark {
			dst, cur, changed = out, out[mark:], true
		}
	}
	if !changed {
		return dst[:start], nil
	}
	n := copy(dst[start:], cur)
	return dst[:start+n], nil
}
