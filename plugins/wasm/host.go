package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/switchyard-dev/switchyard/plugins/abi"
)

// WASI errno values used by the minimal WASI surface.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNosys   = 52
)

// Caps on what a guest may write to the host log (switchyard.log and
// fd_write share them): per line, per call and per instance.
const (
	maxLogLine       = 1024
	maxGuestLines    = 32 // per instance, and per call
	maxCallLogBytes  = 8 << 10
	maxGuestLogBytes = 32 << 10
	hostCallFuel     = 100 // every host call
	hostFuelPerByte  = 4   // per byte a host call reads, writes or fills
	hostFuelPerIOVec = 20  // per iovec fd_write walks
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one function a guest may import.
type hostFunc struct {
	fn              api.GoModuleFunc
	params, results []api.ValueType
}

// hostEnv is what host functions of one plugin's runtime share. Why our own
// WASI functions instead of wazero's wasi_snapshot_preview1? See
// docs/RATIONALE.md "Why a hand-written WASI surface?": the guest must see no
// files, sockets, environment or arguments, only a clock, randomness and a
// log, and every function it may import is listed here.
type hostEnv struct {
	log   *slog.Logger
	start time.Time
	// guests maps each live instance's api.Module to its guestState, so that
	// a host function can charge the calling instance's budget.
	guests sync.Map // api.Module → *guestState
}

// guestState is what the host functions know about one instance: its fuel
// counter, the wall-clock deadline of the call it is in, and its log budget.
// An instance serves one call at a time, so only the calling goroutine
// touches it, except forget after the instance is closed.
type guestState struct {
	fuel     api.MutableGlobal // nil for a module without the fuel counter
	timeout  time.Duration     // of the current call or start-up
	deadline int64             // unix nanoseconds; 0 = set at the first host call

	mu        sync.Mutex // guards the log state below against forget
	line      []byte     // unfinished output line
	fd        uint32
	callLines int // lines logged in this call
	callBytes int
	lines     int // lines logged by this instance
	bytes     int
	dropped   bool // the "dropped" notice was logged
}

func newGuestState(timeout time.Duration) *guestState {
	g := &guestState{}
	g.startCall(timeout)
	return g
}

// startCall resets the per-call budgets before a guest call. The deadline
// starts at the first host call, so a call that never calls the host costs
// no clock read.
func (g *guestState) startCall(timeout time.Duration) {
	g.timeout = timeout
	g.deadline = 0
	g.callLines, g.callBytes = 0, 0
}

func (g *guestState) resetInstanceLog() {
	g.mu.Lock()
	g.lines, g.bytes, g.dropped = 0, 0, false
	g.mu.Unlock()
}

type guestStateKey struct{}

// withGuestState carries g to host functions called while the module is
// instantiated (its start section), before it is registered.
func withGuestState(ctx context.Context, g *guestState) context.Context {
	return context.WithValue(ctx, guestStateKey{}, g)
}

func (h *hostEnv) register(m api.Module, g *guestState) { h.guests.Store(m, g) }

// guest returns the state of the calling instance.
func (h *hostEnv) guest(ctx context.Context, m api.Module) *guestState {
	if v, ok := h.guests.Load(m); ok {
		return v.(*guestState)
	}
	if g, ok := ctx.Value(guestStateKey{}).(*guestState); ok {
		return g
	}
	panic(errUnknownGuest)
}

// Errors a host function ends a guest call with (by panicking: wazero turns
// the panic into the call's error, wrapping it).
var (
	errHostDeadline = errors.New("wall-clock limit passed inside a host call")
	errHostFuel     = errors.New("fuel ran out inside a host call")
	errUnknownGuest = errors.New("host call from an unknown instance")
)

// charge is called first by every host function: it ends the call when the
// caller's context ended or the call's wall-clock limit passed, and takes
// cost from the call's fuel, ending the call when it runs out. A guest that
// loops in host calls is so bounded like one that loops in its own code.
func (h *hostEnv) charge(ctx context.Context, m api.Module, cost int64) *guestState {
	g := h.guest(ctx, m)
	now := time.Now().UnixNano()
	if g.deadline == 0 {
		g.deadline = now + int64(g.timeout)
	} else if now > g.deadline {
		panic(errHostDeadline)
	}
	if err := ctx.Err(); err != nil {
		panic(err)
	}
	if g.fuel != nil {
		left := int64(g.fuel.Get()) - cost
		g.fuel.Set(uint64(left))
		if left < 0 {
			panic(errHostFuel)
		}
	}
	return g
}

// allowed returns the import table: module → name → function.
func (h *hostEnv) allowed() map[string]map[string]hostFunc {
	return map[string]map[string]hostFunc{
		abi.HostModule: {
			abi.HostLog: {h.hostLog, []api.ValueType{i32, i32, i32}, nil},
		},
		abi.WASIModule: {
			"args_sizes_get":      {h.sizesGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"args_get":            {h.emptyGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"environ_sizes_get":   {h.sizesGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"environ_get":         {h.emptyGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"clock_time_get":      {h.clockTimeGet, []api.ValueType{i32, i64, i32}, []api.ValueType{i32}},
			"clock_res_get":       {h.clockResGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"random_get":          {h.randomGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"fd_write":            {h.fdWrite, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
			"proc_exit":           {h.procExit, []api.ValueType{i32}, nil},
			"sched_yield":         {h.errno(errnoSuccess), nil, []api.ValueType{i32}},
			"fd_close":            {h.errno(errnoBadf), []api.ValueType{i32}, []api.ValueType{i32}},
			"fd_seek":             {h.errno(errnoBadf), []api.ValueType{i32, i64, i32, i32}, []api.ValueType{i32}},
			"fd_fdstat_get":       {h.errno(errnoBadf), []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"fd_prestat_get":      {h.errno(errnoBadf), []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"fd_prestat_dir_name": {h.errno(errnoBadf), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}},
			"fd_fdstat_set_flags": {h.errno(errnoBadf), []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"fd_read":             {h.errno(errnoBadf), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
			"poll_oneoff":         {h.errno(errnoNosys), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
		},
	}
}

// instantiateHost instantiates the two host modules in rt, exporting only
// the functions the compiled guest imports.
func (h *hostEnv) instantiateHost(ctx context.Context, rt wazero.Runtime, imports []api.FunctionDefinition) error {
	table := h.allowed()
	builders := map[string]wazero.HostModuleBuilder{}
	for _, def := range imports {
		mod, name, _ := def.Import()
		f, ok := table[mod][name]
		if !ok {
			return fmt.Errorf("%w %s.%s: a plugin may import only %s.%s and a minimal %s (see docs/abi.md)",
				ErrImport, mod, name, abi.HostModule, abi.HostLog, abi.WASIModule)
		}
		if !sameTypes(def.ParamTypes(), f.params) || !sameTypes(def.ResultTypes(), f.results) {
			return fmt.Errorf("%w %s.%s: signature %v -> %v, want %v -> %v",
				ErrImport, mod, name, def.ParamTypes(), def.ResultTypes(), f.params, f.results)
		}
		b := builders[mod]
		if b == nil {
			b = rt.NewHostModuleBuilder(mod)
			builders[mod] = b
		}
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).Export(name)
	}
	for mod, b := range builders {
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("wasm: host module %s: %w", mod, err)
		}
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (h *hostEnv) errno(e uint64) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		h.charge(ctx, m, hostCallFuel)
		if len(stack) > 0 {
			stack[0] = e
		}
	}
}

// hostLog is switchyard.log(level, ptr, len). A bad pointer is ignored rather
// than trapping: logging must never fail a request. Lines are capped at
// maxLogLine bytes and count against the instance's log budget.
func (h *hostEnv) hostLog(ctx context.Context, m api.Module, stack []uint64) {
	level := slog.Level(int32(stack[0]))
	n := min(uint32(stack[2]), maxLogLine)
	g := h.charge(ctx, m, hostCallFuel+hostFuelPerByte*int64(n))
	b, ok := m.Memory().Read(uint32(stack[1]), n)
	if !ok || !h.log.Enabled(ctx, level) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if h.admit(ctx, g, level, len(b)) {
		h.log.Log(ctx, level, string(b), "source", "plugin")
	}
}

// admit counts one line of n bytes against the call's and the instance's
// log budget; false means drop it. The first line dropped for the instance's
// budget is replaced by a notice. g.mu is held.
func (h *hostEnv) admit(ctx context.Context, g *guestState, level slog.Level, n int) bool {
	if g.lines >= maxGuestLines || g.bytes+n > maxGuestLogBytes {
		if !g.dropped {
			g.dropped = true
			h.log.Log(ctx, level, "further output of this instance dropped", "source", "plugin")
		}
		return false
	}
	if g.callLines >= maxGuestLines || g.callBytes+n > maxCallLogBytes {
		return false
	}
	g.lines++
	g.callLines++
	g.bytes += n
	g.callBytes += n
	return true
}

// sizesGet answers args_sizes_get and environ_sizes_get: no arguments, no
// environment.
func (h *hostEnv) sizesGet(ctx context.Context, m api.Module, stack []uint64) {
	h.charge(ctx, m, hostCallFuel)
	mem := m.Memory()
	if !mem.WriteUint32Le(uint32(stack[0]), 0) || !mem.WriteUint32Le(uint32(stack[1]), 0) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func (h *hostEnv) emptyGet(ctx context.Context, m api.Module, stack []uint64) {
	h.charge(ctx, m, hostCallFuel)
	stack[0] = errnoSuccess
}

func (h *hostEnv) clockTimeGet(ctx context.Context, m api.Module, stack []uint64) {
	h.charge(ctx, m, hostCallFuel)
	var t uint64
	switch uint32(stack[0]) {
	case 0: // realtime
		t = uint64(time.Now().UnixNano())
	case 1: // monotonic
		t = uint64(time.Since(h.start).Nanoseconds())
	default:
		stack[0] = errnoInval
		return
	}
	if !m.Memory().WriteUint64Le(uint32(stack[2]), t) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func (h *hostEnv) clockResGet(ctx context.Context, m api.Module, stack []uint64) {
	h.charge(ctx, m, hostCallFuel)
	if uint32(stack[0]) > 1 {
		stack[0] = errnoInval
		return
	}
	if !m.Memory().WriteUint64Le(uint32(stack[1]), 1) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// randomGet fills the guest's buffer from crypto/rand, charged per byte
// before any is filled (a guest cannot make the host do more work than its
// budget pays for); a buffer outside memory is EFAULT.
func (h *hostEnv) randomGet(ctx context.Context, m api.Module, stack []uint64) {
	h.charge(ctx, m, hostCallFuel)
	b, ok := m.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = errnoFault
		return
	}
	h.charge(ctx, m, hostFuelPerByte*int64(len(b)))
	_, _ = rand.Read(b)
	stack[0] = errnoSuccess
}

// fdWrite sends what a guest writes to stdout (debug) or stderr (warn) to the
// host log, one record per line, lines capped at maxLogLine bytes, within the
// instance's log budget. Every byte is charged, logged or not.
func (h *hostEnv) fdWrite(ctx context.Context, m api.Module, stack []uint64) {
	fd, iovs, iovsLen, resultPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	g := h.charge(ctx, m, hostCallFuel)
	if fd != 1 && fd != 2 {
		stack[0] = errnoBadf
		return
	}
	mem := m.Memory()
	g.mu.Lock()
	defer g.mu.Unlock()
	total := uint32(0)
	for i := range iovsLen {
		ptr, ok1 := mem.ReadUint32Le(iovs + 8*i)
		l, ok2 := mem.ReadUint32Le(iovs + 8*i + 4)
		if !ok1 || !ok2 {
			stack[0] = errnoFault
			return
		}
		b, ok := mem.Read(ptr, l)
		if !ok {
			stack[0] = errnoFault
			return
		}
		h.charge(ctx, m, hostFuelPerIOVec+hostFuelPerByte*int64(l))
		total += l
		for len(b) > 0 {
			if g.fd != fd && len(g.line) > 0 {
				h.emit(ctx, g)
			}
			g.fd = fd
			nl := bytes.IndexByte(b, '\n')
			if nl < 0 {
				g.line = append(g.line, b[:min(len(b), maxLogLine-len(g.line))]...)
				break
			}
			g.line = append(g.line, b[:min(nl, maxLogLine-len(g.line))]...)
			h.emit(ctx, g)
			b = b[nl+1:]
		}
	}
	if !mem.WriteUint32Le(resultPtr, total) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// emit logs g's current line and clears it. g.mu is held.
func (h *hostEnv) emit(ctx context.Context, g *guestState) {
	line := bytes.TrimRight(g.line, "\r")
	g.line = g.line[:0]
	if len(line) == 0 {
		return
	}
	level := slog.LevelDebug
	if g.fd == 2 {
		level = slog.LevelWarn
	}
	if !h.log.Enabled(ctx, level) || !h.admit(ctx, g, level, len(line)) {
		return
	}
	h.log.Log(ctx, level, string(line), "source", "plugin", "fd", g.fd)
}

// forget flushes and drops the state of a closed instance.
func (h *hostEnv) forget(m api.Module) {
	if v, ok := h.guests.LoadAndDelete(m); ok {
		g := v.(*guestState)
		g.mu.Lock()
		g.callLines, g.callBytes = 0, 0
		h.emit(context.Background(), g)
		g.mu.Unlock()
	}
}

// procExit ends the guest like wazero's WASI does: close the module with the
// code and unwind with sys.ExitError. The instance is then discarded.
func (h *hostEnv) procExit(ctx context.Context, m api.Module, stack []uint64) {
	h.charge(ctx, m, hostCallFuel)
	code := uint32(stack[0])
	_ = m.CloseWithExitCode(ctx, code)
	panic(sys.NewExitError(code))
}
