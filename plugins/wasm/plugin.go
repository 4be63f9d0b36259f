// Package wasm runs Switchyard plugins as WebAssembly modules in wazero,
// behind the plugins.Router and plugins.Redactor interfaces.
//
// A Plugin owns one wazero runtime, one compiled module and a bounded pool of
// instances; a Set owns every configured plugin, reloads them when their file
// or config changes, and applies each plugin's on_error policy. The ABI
// between host and guest is ABI v1 (docs/abi.md, package plugins/abi).
package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/abi"
	"github.com/switchyard-dev/switchyard/router/config"
)

// Defaults for zero fields of config.Plugin.
const (
	DefaultMaxFuel   = 10_000_000
	DefaultMaxMemory = 64 << 20
	DefaultMaxCalls  = 10_000
	// FailureThreshold is K: this many failed calls in a row make the plugin
	// unhealthy (Healthy returns an error) and rebuild its pool.
	FailureThreshold = 5
	// initFuelFactor multiplies max_fuel for _initialize and init, which run
	// a language runtime's start-up once per instance.
	initFuelFactor = 100
	// initialBuffer is the size of the input buffer asked from alloc when an
	// instance starts; it grows when a record does not fit.
	initialBuffer = 64 << 10
	// maxRecord caps one input record.
	maxRecord = 64 << 20
	// maxPages caps max_memory at 2 GiB so that a packed result (ptr<<32|len)
	// is never negative.
	maxPages = 32768
)

// Options are host-wide settings shared by every plugin.
type Options struct {
	// CacheDir holds wazero's on-disk compilation cache; "" = no cache.
	CacheDir string
	// Logger receives load, failure and guest log lines. nil = slog.Default().
	Logger *slog.Logger
	// PollInterval is how often a Set checks its plugin files for changes
	// (modification time and size). 0 = every second; < 0 = never.
	PollInterval time.Duration
	// OnReload, when set, is called after a Set reloaded a plugin because its
	// file changed: err is nil when the new module serves, else why it was
	// refused (the old one keeps serving). For metrics and tests.
	OnReload func(plugin string, err error)
}

// Plugin is one loaded Wasm module: a runtime, the compiled module and a
// pool of prewarmed instances. It implements plugins.Router and
// plugins.Redactor. Safe for concurrent use; Close releases everything once
// the calls in flight have returned.
type Plugin struct {
	name        string // configured name, for logs, metrics and policy messages
	modName     string // the module's plugin_name
	modVersion  string // the module's plugin_version
	kinds       plugins.Kind
	onError     plugins.OnError
	maxFuel     int64
	maxCalls    int
	recycleSize uint32 // recycle an instance whose memory grew above this
	initConfig  []byte
	hasFuel     bool

	log      *slog.Logger
	env      *hostEnv
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	cache    wazero.CompilationCache

	slots chan *instance // nil entries are slots to fill
	gen   atomic.Uint32  // bumped to rebuild the pool

	// refs counts the owner (1) plus calls in flight and background refills;
	// the runtime is closed when it drops to 0. See acquire.
	refs    atomic.Int64
	closed  atomic.Bool
	done    chan struct{}
	streak  atomic.Int32  // failed calls in a row
	fails   atomic.Uint64 // failed calls since load
	rebuild atomic.Uint64 // pool rebuilds since load
}

// instance is one guest instance with its exports looked up once.
type instance struct {
	mod           api.Module
	mem           api.Memory
	alloc         api.Function
	route, redact api.Function
	fuel          api.MutableGlobal
	buf, bufCap   uint32 // input buffer from alloc
	calls         int
	gen           uint32
	stack         [2]uint64
}

// Load compiles the module at p.Wasm (a resolved path), checks its imports and
// exports against ABI v1, instruments it with the fuel counter, and prewarms
// its pool, calling init with p.Config as JSON in each instance. A module that
// fails any of these is refused with an error saying why.
func Load(ctx context.Context, p config.Plugin, opts Options) (*Plugin, error) {
	wasm, err := os.ReadFile(p.Wasm)
	if err != nil {
		return nil, fmt.Errorf("wasm: plugin %q: %w", p.Name, err)
	}
	return LoadBytes(ctx, p, wasm, opts)
}

// LoadBytes is Load with the module's bytes given.
func LoadBytes(ctx context.Context, p config.Plugin, wasm []byte, opts Options) (_ *Plugin, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	pl := &Plugin{
		name:     p.Name,
		maxFuel:  p.MaxFuel,
		maxCalls: p.MaxCalls,
		log:      log.With("plugin", p.Name),
		done:     make(chan struct{}),
	}
	pl.env = &hostEnv{log: pl.log, start: time.Now()}
	if pl.maxFuel <= 0 {
		pl.maxFuel = DefaultMaxFuel
	}
	if pl.maxCalls <= 0 {
		pl.maxCalls = DefaultMaxCalls
	}
	maxMem := int64(p.MaxMemory)
	if maxMem <= 0 {
		maxMem = DefaultMaxMemory
	}
	pages := min((maxMem+65535)/65536, maxPages)
	pl.recycleSize = uint32(pages * 65536 / 4 * 3)
	poolSize := p.PoolSize
	if poolSize <= 0 {
		poolSize = 2 * runtime.GOMAXPROCS(0)
	}
	if pl.onError, err = plugins.ParseOnError(p.OnError); err != nil {
		return nil, fmt.Errorf("wasm: plugin %q: %w", p.Name, err)
	}
	var want plugins.Kind
	if p.Kind != "" {
		if want, err = plugins.ParseKind(p.Kind); err != nil {
			return nil, fmt.Errorf("wasm: plugin %q: %w", p.Name, err)
		}
	}
	cfg := p.Config
	if cfg == nil {
		cfg = map[string]any{}
	}
	if pl.initConfig, err = json.Marshal(cfg); err != nil {
		return nil, fmt.Errorf("wasm: plugin %q: config: %w", p.Name, err)
	}

	wasm, err = instrument(wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: plugin %q: fuel instrumentation: %w", ErrABI, p.Name, err)
	}

	rc := wazero.NewRuntimeConfigCompiler().WithMemoryLimitPages(uint32(pages))
	if opts.CacheDir != "" {
		if pl.cache, err = wazero.NewCompilationCacheWithDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("wasm: compilation cache %s: %w", opts.CacheDir, err)
		}
		rc = rc.WithCompilationCache(pl.cache)
	}
	pl.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	defer func() {
		if err != nil {
			pl.destroy()
		}
	}()
	if pl.compiled, err = pl.rt.CompileModule(ctx, wasm); err != nil {
		return nil, fmt.Errorf("%w: plugin %q: %w", ErrABI, p.Name, err)
	}
	if err = pl.checkExports(want); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", p.Name, err)
	}
	if err = pl.env.instantiateHost(ctx, pl.rt, pl.compiled.ImportedFunctions()); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", p.Name, err)
	}

	pl.slots = make(chan *instance, poolSize)
	for range poolSize {
		in, err := pl.newInstance(ctx)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", p.Name, err)
		}
		if pl.modName == "" {
			pl.hasFuel = in.fuel != nil
			if err = pl.readInfo(ctx, in); err != nil {
				pl.closeInstance(ctx, in.mod)
				return nil, fmt.Errorf("plugin %q: %w", p.Name, err)
			}
		}
		pl.slots <- in
	}
	if want != 0 {
		if !pl.kinds.Has(want) {
			return nil, fmt.Errorf("plugin %q: %w: configured kind %q, module serves %q", p.Name, ErrNoHook, want, pl.kinds)
		}
		pl.kinds = want
	}
	if pl.name == "" {
		pl.name = pl.modName
	}
	pl.refs.Store(1)
	pl.log.Info("plugin loaded", "module", pl.modName, "version", pl.modVersion,
		"kinds", pl.kinds.String(), "fuel", pl.hasFuel, "pool", poolSize, "max_memory_pages", pages)
	return pl, nil
}

// checkExports verifies the ABI v1 exports and decides the plugin's kinds.
func (p *Plugin) checkExports(want plugins.Kind) error {
	ex := p.compiled.ExportedFunctions()
	sig := func(name string, params, results []api.ValueType) error {
		d, ok := ex[name]
		if !ok {
			return fmt.Errorf("%w: missing export %q", ErrABI, name)
		}
		if !sameTypes(d.ParamTypes(), params) || !sameTypes(d.ResultTypes(), results) {
			return fmt.Errorf("%w: export %q has signature %v -> %v, want %v -> %v",
				ErrABI, name, d.ParamTypes(), d.ResultTypes(), params, results)
		}
		return nil
	}
	if err := sig(abi.VersionExport, nil, []api.ValueType{i32}); err != nil {
		return fmt.Errorf("%w (not a Switchyard ABI v1 module?)", err)
	}
	if _, ok := p.compiled.ExportedMemories()[abi.MemoryExport]; !ok {
		return fmt.Errorf("%w: missing export %q", ErrABI, abi.MemoryExport)
	}
	if len(p.compiled.ImportedMemories()) > 0 {
		return fmt.Errorf("%w: imported memory", ErrImport)
	}
	for _, e := range []struct {
		name            string
		params, results []api.ValueType
	}{
		{abi.AllocExport, []api.ValueType{i32}, []api.ValueType{i32}},
		{abi.InitExport, []api.ValueType{i32, i32}, []api.ValueType{i32}},
		{abi.NameExport, nil, []api.ValueType{i64}},
		{abi.VersionStrExport, nil, []api.ValueType{i64}},
	} {
		if err := sig(e.name, e.params, e.results); err != nil {
			return err
		}
	}
	if _, ok := ex[abi.InitializeExport]; ok {
		if err := sig(abi.InitializeExport, nil, nil); err != nil {
			return err
		}
	}
	if _, ok := ex[abi.KindsExport]; ok {
		if err := sig(abi.KindsExport, nil, []api.ValueType{i32}); err != nil {
			return err
		}
	}
	hook := []api.ValueType{i32, i32}
	for _, h := range []struct {
		name string
		kind plugins.Kind
	}{{abi.RouteExport, plugins.KindRoute}, {abi.RedactExport, plugins.KindRedact}} {
		if _, ok := ex[h.name]; !ok {
			continue
		}
		if err := sig(h.name, hook, []api.ValueType{i64}); err != nil {
			return err
		}
		p.kinds |= h.kind
	}
	if p.kinds == 0 {
		return fmt.Errorf("%w: exports neither %q nor %q", ErrNoHook, abi.RouteExport, abi.RedactExport)
	}
	if want != 0 && !p.kinds.Has(want) {
		return fmt.Errorf("%w: configured kind %q, module exports %q", ErrNoHook, want, p.kinds)
	}
	return nil
}

// readInfo calls the version marker, plugin_kinds, plugin_name and
// plugin_version once, on the first instance.
func (p *Plugin) readInfo(ctx context.Context, in *instance) error {
	v, err := p.callInit(ctx, in, abi.VersionExport)
	if err != nil {
		return err
	}
	if int32(v) != abi.Version {
		return fmt.Errorf("%w: ABI version %d, this host speaks %d", ErrABI, int32(v), abi.Version)
	}
	if in.mod.ExportedFunction(abi.KindsExport) != nil {
		k, err := p.callInit(ctx, in, abi.KindsExport)
		if err != nil {
			return err
		}
		declared := plugins.Kind(k) & (plugins.KindRoute | plugins.KindRedact)
		if declared == 0 || !p.kinds.Has(declared) {
			return fmt.Errorf("%w: plugin_kinds %d does not match the hooks exported (%s)", ErrABI, k, p.kinds)
		}
		p.kinds = declared
	}
	if p.modName, err = p.readString(ctx, in, abi.NameExport); err != nil {
		return err
	}
	if p.modVersion, err = p.readString(ctx, in, abi.VersionStrExport); err != nil {
		return err
	}
	return nil
}

func (p *Plugin) readString(ctx context.Context, in *instance, export string) (string, error) {
	r, err := p.callInit(ctx, in, export)
	if err != nil {
		return "", err
	}
	ptr, n, code := abi.Unpack(int64(r))
	if code != 0 || n > 256 {
		return "", fmt.Errorf("%w: %s returned %#x", ErrBadOutput, export, r)
	}
	b, ok := in.mem.Read(ptr, n)
	if !ok {
		return "", fmt.Errorf("%w: %s out of bounds", ErrBadOutput, export)
	}
	return string(b), nil
}

// callInit calls a no-argument export outside the hot path, with the
// start-up fuel budget.
func (p *Plugin) callInit(ctx context.Context, in *instance, export string, args ...uint64) (uint64, error) {
	f := in.mod.ExportedFunction(export)
	if f == nil {
		return 0, fmt.Errorf("%w: missing export %q", ErrABI, export)
	}
	p.setFuel(in, p.maxFuel*initFuelFactor)
	res, err := f.Call(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", export, classify(err, in.fuel != nil, p.fuelLeft(in)))
	}
	if len(res) == 0 {
		return 0, nil
	}
	return res[0], nil
}

func (p *Plugin) setFuel(in *instance, fuel int64) {
	if in.fuel != nil {
		in.fuel.Set(uint64(fuel))
	}
}

func (p *Plugin) fuelLeft(in *instance) int64 {
	if in.fuel == nil {
		return 0
	}
	return int64(in.fuel.Get())
}

// newInstance instantiates the module, runs _initialize and init, and
// allocates the input buffer. On error nothing is left open.
func (p *Plugin) newInstance(ctx context.Context) (_ *instance, err error) {
	mod, err := p.rt.InstantiateModule(ctx, p.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInstantiate, err)
	}
	in := &instance{mod: mod, mem: mod.Memory(), gen: p.gen.Load()}
	defer func() {
		if err != nil {
			p.closeInstance(ctx, mod)
		}
	}()
	if g, ok := mod.ExportedGlobal(fuelGlobal).(api.MutableGlobal); ok && g.Type() == api.ValueTypeI64 {
		in.fuel = g
	}
	in.alloc = mod.ExportedFunction(abi.AllocExport)
	in.route = mod.ExportedFunction(abi.RouteExport)
	in.redact = mod.ExportedFunction(abi.RedactExport)
	if mod.ExportedFunction(abi.InitializeExport) != nil {
		if _, err = p.callInit(ctx, in, abi.InitializeExport); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInit, err)
		}
	}
	cfgPtr, err := p.guestAlloc(ctx, in, uint32(len(p.initConfig)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}
	if !in.mem.Write(cfgPtr, p.initConfig) {
		return nil, fmt.Errorf("%w: alloc returned an out-of-bounds buffer", ErrInit)
	}
	code, err := p.callInit(ctx, in, abi.InitExport, uint64(cfgPtr), uint64(len(p.initConfig)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}
	if int32(code) != 0 {
		return nil, fmt.Errorf("%w: init returned code %d", ErrInit, int32(code))
	}
	if err = p.grow(ctx, in, initialBuffer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}
	return in, nil
}

// guestAlloc calls alloc(n) and checks the buffer lies in memory.
func (p *Plugin) guestAlloc(ctx context.Context, in *instance, n uint32) (uint32, error) {
	p.setFuel(in, p.maxFuel)
	in.stack[0] = uint64(n)
	if err := in.alloc.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, classify(err, in.fuel != nil, p.fuelLeft(in))
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 && n > 0 {
		return 0, &callError{kind: ErrBadOutput, cause: errAllocFailed}
	}
	if _, ok := in.mem.Read(ptr, n); !ok {
		return 0, &callError{kind: ErrBadOutput, cause: errAllocBounds}
	}
	return ptr, nil
}

var (
	errAllocFailed = errors.New("alloc returned 0")
	errAllocBounds = errors.New("alloc returned a buffer outside memory")
)

// grow makes the input buffer at least n bytes.
func (p *Plugin) grow(ctx context.Context, in *instance, n uint32) error {
	if n <= in.bufCap {
		return nil
	}
	n = max(n, 2*in.bufCap)
	ptr, err := p.guestAlloc(ctx, in, n)
	if err != nil {
		return err
	}
	in.buf, in.bufCap = ptr, n
	return nil
}

// Name returns the configured name (the module's own name if none was set).
func (p *Plugin) Name() string { return p.name }

// ModuleName returns the name the module declares with plugin_name.
func (p *Plugin) ModuleName() string { return p.modName }

// Version returns the version the module declares with plugin_version.
func (p *Plugin) Version() string { return p.modVersion }

// Kinds returns the hooks this plugin serves.
func (p *Plugin) Kinds() plugins.Kind { return p.kinds }

// OnError returns the plugin's failure policy.
func (p *Plugin) OnError() plugins.OnError { return p.onError }

// Fueled reports whether calls run with a CPU budget (the module exports the
// fuel counter added at load).
func (p *Plugin) Fueled() bool { return p.hasFuel }

// Failures returns the number of failed calls since load.
func (p *Plugin) Failures() uint64 { return p.fails.Load() }

// Rebuilds returns how often the pool was rebuilt after K failures in a row.
func (p *Plugin) Rebuilds() uint64 { return p.rebuild.Load() }

// Healthy returns an error when the last FailureThreshold calls all failed;
// /readyz reports it. One successful call makes the plugin healthy again.
func (p *Plugin) Healthy() error {
	if p.closed.Load() {
		return fmt.Errorf("plugin %q: %w", p.name, ErrClosed)
	}
	if n := p.streak.Load(); n >= FailureThreshold {
		return fmt.Errorf("wasm: plugin %q failed %d calls in a row", p.name, n)
	}
	return nil
}

// Close stops new calls and releases the runtime once the calls in flight
// have returned. Safe to call more than once.
func (p *Plugin) Close() error {
	if p.closed.CompareAndSwap(false, true) {
		p.release()
	}
	return nil
}

// Done is closed when the plugin's resources have been released.
func (p *Plugin) Done() <-chan struct{} { return p.done }

// acquire takes a reference for one call; false once the plugin is closing.
// Why reference counting and not a RWMutex? A reload swaps plugins while
// calls are in flight; the old one must close when its last call returns,
// without making calls wait on a lock. See docs/RATIONALE.md.
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
		p.destroy()
	}
}

// destroy closes the pool's instances and the runtime.
func (p *Plugin) destroy() {
	ctx := context.Background()
	if p.slots != nil {
	drain:
		for {
			select {
			case in := <-p.slots:
				if in != nil {
					p.closeInstance(ctx, in.mod)
				}
			default:
				break drain
			}
		}
	}
	if p.rt != nil {
		p.rt.Close(ctx)
	}
	if p.cache != nil {
		p.cache.Close(ctx)
	}
	close(p.done)
}

// closeInstance closes one instance and flushes what it printed.
func (p *Plugin) closeInstance(ctx context.Context, m api.Module) {
	m.Close(ctx)
	p.env.forget(m)
}
