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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/abi"
)

const (
	// initialBuffer is the size of the input buffer asked from alloc when an
	// instance starts; it grows when a record does not fit.
	initialBuffer = 64 << 10
	// maxRecord caps one input record.
	maxRecord = 64 << 20
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
	cfg         Config // with defaults applied; never changed after Load
	name        string // configured name, for logs, metrics and policy messages
	modName     string // the module's plugin_name
	modVersion  string // the module's plugin_version
	sha256      string // hex digest of the module's bytes as given
	kinds       plugins.Kind
	recycleSize uint32 // recycle an instance whose memory grew above this
	hasFuel     bool

	log      *slog.Logger
	env      *hostEnv
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	cache    wazero.CompilationCache

	// slots holds the idle instances, and nil for a slot whose instance
	// failed to start (the next caller fails fast and a refill is started).
	// Its capacity is 2 × PoolSize: while a replacement is prewarmed, the old
	// instance keeps serving, and both may sit in it for a moment.
	slots chan *instance
	gen   atomic.Uint32 // bumped to rebuild the pool

	// refs counts the owner (1) plus calls in flight and background refills;
	// the runtime is closed when it drops to 0. See acquire.
	refs      atomic.Int64
	closed    atomic.Bool
	done      chan struct{}
	streak    atomic.Int32  // failed calls in a row
	calls     atomic.Uint64 // hook calls since load
	fails     atomic.Uint64 // failed calls since load
	rebuild   atomic.Uint64 // pool rebuilds since load
	recycled  atomic.Uint64 // instances replaced after max_calls or memory
	instances atomic.Int64  // instances serving (not retired, not closed)
	inUse     atomic.Int64  // instances in a call

	// testHookInstantiate, when set by a test, runs at the start of every
	// instantiation (on the goroutine doing it).
	testHookInstantiate func()
}

// instance is one guest instance with its exports looked up once.
type instance struct {
	mod           api.Module
	mem           api.Memory
	alloc         api.Function
	route, redact api.Function
	fuel          api.MutableGlobal
	guest         *guestState
	buf, bufCap   uint32 // input buffer from alloc
	calls         int
	gen           uint32
	stack         [2]uint64
	// replacing is set while a replacement is being prewarmed; retired once
	// it serves: the next get or put closes this instance.
	replacing atomic.Bool
	retired   atomic.Bool
}

// Load compiles the module at c.Wasm, checks its imports and exports against
// ABI v1, instruments it with the fuel counter, and prewarms its pool,
// calling init with c.InitConfig in each instance. A module that fails any of
// these is refused with an error saying why.
func Load(ctx context.Context, c Config, opts Options) (*Plugin, error) {
	wasm, err := os.ReadFile(c.Wasm)
	if err != nil {
		return nil, fmt.Errorf("wasm: plugin %q: %w", c.Name, err)
	}
	return LoadBytes(ctx, c, wasm, opts)
}

// LoadBytes is Load with the module's bytes given (c.Wasm is then only a
// name for logs).
func LoadBytes(ctx context.Context, c Config, wasm []byte, opts Options) (_ *Plugin, err error) {
	if c, err = c.withDefaults(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	sum := sha256.Sum256(wasm)
	pl := &Plugin{
		cfg:    c,
		name:   c.Name,
		sha256: hex.EncodeToString(sum[:]),
		log:    log.With("plugin", c.Name),
		done:   make(chan struct{}),
	}
	pl.env = &hostEnv{log: pl.log, start: time.Now()}
	pages := (c.MaxMemory + 65535) / 65536
	pl.recycleSize = uint32(pages * 65536 / 4 * 3)
	want := c.Kind

	wasm, err = instrument(wasm)
	if err != nil {
		return nil, fmt.Errorf("%w: plugin %q: fuel instrumentation: %w", ErrABI, c.Name, err)
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
		return nil, fmt.Errorf("%w: plugin %q: %w", ErrABI, c.Name, err)
	}
	if err = pl.checkExports(want); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", c.Name, err)
	}
	if err = pl.env.instantiateHost(ctx, pl.rt, pl.compiled.ImportedFunctions()); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", c.Name, err)
	}

	pl.slots = make(chan *instance, 2*c.PoolSize)
	for range c.PoolSize {
		in, err := pl.newInstance(ctx)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", c.Name, err)
		}
		if pl.modName == "" {
			pl.hasFuel = in.fuel != nil
			if err = pl.readInfo(ctx, in); err != nil {
				pl.closeInstance(ctx, in)
				return nil, fmt.Errorf("plugin %q: %w", c.Name, err)
			}
		}
		pl.slots <- in
	}
	if want != 0 {
		if !pl.kinds.Has(want) {
			return nil, fmt.Errorf("plugin %q: %w: configured kind %q, module serves %q", c.Name, ErrNoHook, want, pl.kinds)
		}
		pl.kinds = want
	}
	if pl.name == "" {
		pl.name = pl.modName
	}
	pl.refs.Store(1)
	pl.log.Info("plugin loaded", "module", pl.modName, "version", pl.modVersion, "sha256", pl.sha256,
		"kinds", pl.kinds.String(), "fuel", pl.hasFuel, "pool", c.PoolSize, "max_memory_pages", pages)
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
// start-up fuel budget and deadline.
func (p *Plugin) callInit(ctx context.Context, in *instance, export string, args ...uint64) (uint64, error) {
	f := in.mod.ExportedFunction(export)
	if f == nil {
		return 0, fmt.Errorf("%w: missing export %q", ErrABI, export)
	}
	p.setFuel(in, p.cfg.BaseFuel*initFuelFactor)
	in.guest.startCall(p.cfg.InitTimeout)
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
// allocates the input buffer. On error nothing is left open. It runs at load
// and on background goroutines, never on a call's path.
func (p *Plugin) newInstance(ctx context.Context) (_ *instance, err error) {
	if p.testHookInstantiate != nil {
		p.testHookInstantiate()
	}
	// A start section runs inside InstantiateModule, before the instance is
	// known: host functions find its budget through the context.
	g := newGuestState(p.cfg.InitTimeout)
	mod, err := p.rt.InstantiateModule(withGuestState(ctx, g), p.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInstantiate, classify(err, false, 0))
	}
	in := &instance{mod: mod, mem: mod.Memory(), gen: p.gen.Load(), guest: g}
	p.env.register(mod, g)
	defer func() {
		if err != nil {
			mod.Close(ctx)
			p.env.forget(mod)
		}
	}()
	if gl, ok := mod.ExportedGlobal(fuelGlobal).(api.MutableGlobal); ok && gl.Type() == api.ValueTypeI64 {
		in.fuel = gl
		g.fuel = gl
	}
	in.alloc = mod.ExportedFunction(abi.AllocExport)
	in.route = mod.ExportedFunction(abi.RouteExport)
	in.redact = mod.ExportedFunction(abi.RedactExport)
	if mod.ExportedFunction(abi.InitializeExport) != nil {
		if _, err = p.callInit(ctx, in, abi.InitializeExport); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInit, err)
		}
	}
	cfgPtr, err := p.guestAlloc(ctx, in, uint32(len(p.cfg.InitConfig)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}
	if !in.mem.Write(cfgPtr, p.cfg.InitConfig) {
		return nil, fmt.Errorf("%w: alloc returned an out-of-bounds buffer", ErrInit)
	}
	code, err := p.callInit(ctx, in, abi.InitExport, uint64(cfgPtr), uint64(len(p.cfg.InitConfig)))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}
	if int32(code) != 0 {
		return nil, fmt.Errorf("%w: init returned code %d", ErrInit, int32(code))
	}
	if err = p.grow(ctx, in, initialBuffer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInit, err)
	}
	g.resetInstanceLog()
	p.instances.Add(1)
	return in, nil
}

// guestAlloc calls alloc(n) and checks the buffer lies in memory.
func (p *Plugin) guestAlloc(ctx context.Context, in *instance, n uint32) (uint32, error) {
	p.setFuel(in, p.cfg.budget(int(n)))
	in.guest.startCall(p.cfg.CallTimeout)
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
func (p *Plugin) OnError() plugins.OnError { return p.cfg.OnError }

// Config returns the plugin's config with every default applied.
func (p *Plugin) Config() Config {
	c := p.cfg
	c.InitConfig = append([]byte(nil), c.InitConfig...)
	return c
}

// SHA256 returns the hex digest of the module's bytes as loaded.
func (p *Plugin) SHA256() string { return p.sha256 }

// Stats returns a snapshot of the plugin's counters (Skipped is the Set's).
func (p *Plugin) Stats() plugins.Stats {
	return plugins.Stats{
		Name: p.name, Kinds: p.kinds, Module: p.modName, Version: p.modVersion, ModuleSHA256: p.sha256,
		Calls: p.calls.Load(), Failures: p.fails.Load(), Rebuilds: p.rebuild.Load(), Recycled: p.recycled.Load(),
		PoolSize: p.cfg.PoolSize, Instances: int(p.instances.Load()), InUse: int(p.inUse.Load()),
		Healthy: p.Healthy() == nil,
	}
}

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
					p.closeInstance(ctx, in)
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
func (p *Plugin) closeInstance(ctx context.Context, in *instance) {
	if !in.retired.Swap(true) {
		p.instances.Add(-1)
	}
	in.mod.Close(ctx)
	p.env.forget(in.mod)
}
