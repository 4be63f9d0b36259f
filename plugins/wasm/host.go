package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
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

// maxLogLine caps one line a guest writes to the host log.
const maxLogLine = 1024

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
	// out holds each instance's partial stdout/stderr line, keyed by its
	// api.Module, so that a guest writing a panic byte by byte still gives
	// whole log lines. Not on the hot path: only guests that print use it.
	out sync.Map // api.Module → *guestOutput
}

// guestOutput is one instance's unfinished output line and how many lines it
// logged; after maxGuestLines the rest is dropped, so a guest cannot flood
// the host log.
type guestOutput struct {
	mu    sync.Mutex
	line  []byte
	fd    uint32
	lines int
}

const maxGuestLines = 32

// allowed returns the import table: module → name → function.
func (h *hostEnv) allowed() map[string]map[string]hostFunc {
	return map[string]map[string]hostFunc{
		abi.HostModule: {
			abi.HostLog: {h.hostLog, []api.ValueType{i32, i32, i32}, nil},
		},
		abi.WASIModule: {
			"args_sizes_get":      {sizesGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"args_get":            {emptyGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"environ_sizes_get":   {sizesGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"environ_get":         {emptyGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"clock_time_get":      {h.clockTimeGet, []api.ValueType{i32, i64, i32}, []api.ValueType{i32}},
			"clock_res_get":       {clockResGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"random_get":          {randomGet, []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"fd_write":            {h.fdWrite, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
			"proc_exit":           {procExit, []api.ValueType{i32}, nil},
			"sched_yield":         {errno(errnoSuccess), nil, []api.ValueType{i32}},
			"fd_close":            {errno(errnoBadf), []api.ValueType{i32}, []api.ValueType{i32}},
			"fd_seek":             {errno(errnoBadf), []api.ValueType{i32, i64, i32, i32}, []api.ValueType{i32}},
			"fd_fdstat_get":       {errno(errnoBadf), []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"fd_prestat_get":      {errno(errnoBadf), []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"fd_prestat_dir_name": {errno(errnoBadf), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}},
			"fd_fdstat_set_flags": {errno(errnoBadf), []api.ValueType{i32, i32}, []api.ValueType{i32}},
			"fd_read":             {errno(errnoBadf), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
			"poll_oneoff":         {errno(errnoNosys), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
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

func errno(e uint64) api.GoModuleFunc {
	return func(_ context.Context, _ api.Module, stack []uint64) {
		if len(stack) > 0 {
			stack[0] = e
		}
	}
}

// hostLog is switchyard.log(level, ptr, len). A bad pointer is ignored rather
// than trapping: logging must never fail a request.
func (h *hostEnv) hostLog(ctx context.Context, m api.Module, stack []uint64) {
	level := slog.Level(int32(stack[0]))
	n := min(uint32(stack[2]), maxLogLine)
	b, ok := m.Memory().Read(uint32(stack[1]), n)
	if !ok || !h.log.Enabled(ctx, level) {
		return
	}
	h.log.Log(ctx, level, string(b), "source", "plugin")
}

// sizesGet answers args_sizes_get and environ_sizes_get: no arguments, no
// environment.
func sizesGet(_ context.Context, m api.Module, stack []uint64) {
	mem := m.Memory()
	if !mem.WriteUint32Le(uint32(stack[0]), 0) || !mem.WriteUint32Le(uint32(stack[1]), 0) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func emptyGet(_ context.Context, _ api.Module, stack []uint64) { stack[0] = errnoSuccess }

func (h *hostEnv) clockTimeGet(_ context.Context, m api.Module, stack []uint64) {
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

func clockResGet(_ context.Context, m api.Module, stack []uint64) {
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

func randomGet(_ context.Context, m api.Module, stack []uint64) {
	b, ok := m.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = errnoFault
		return
	}
	_, _ = rand.Read(b)
	stack[0] = errnoSuccess
}

// fdWrite sends what a guest writes to stdout (debug) or stderr (warn) to the
// host log, one record per line, lines capped at maxLogLine bytes and at
// maxGuestLines per instance.
func (h *hostEnv) fdWrite(ctx context.Context, m api.Module, stack []uint64) {
	fd, iovs, iovsLen, resultPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if fd != 1 && fd != 2 {
		stack[0] = errnoBadf
		return
	}
	mem := m.Memory()
	v, _ := h.out.LoadOrStore(m, &guestOutput{})
	o := v.(*guestOutput)
	o.mu.Lock()
	defer o.mu.Unlock()
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
		total += l
		for len(b) > 0 {
			if o.fd != fd && len(o.line) > 0 {
				h.emit(ctx, o)
			}
			o.fd = fd
			nl := bytes.IndexByte(b, '\n')
			if nl < 0 {
				o.line = append(o.line, b[:min(len(b), maxLogLine-len(o.line))]...)
				break
			}
			o.line = append(o.line, b[:min(nl, maxLogLine-len(o.line))]...)
			h.emit(ctx, o)
			b = b[nl+1:]
		}
	}
	if !mem.WriteUint32Le(resultPtr, total) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// emit logs o's current line and clears it.
func (h *hostEnv) emit(ctx context.Context, o *guestOutput) {
	line := bytes.TrimRight(o.line, "\r")
	o.line = o.line[:0]
	if len(line) == 0 || o.lines > maxGuestLines {
		return
	}
	o.lines++
	level := slog.LevelDebug
	if o.fd == 2 {
		level = slog.LevelWarn
	}
	if !h.log.Enabled(ctx, level) {
		return
	}
	if o.lines > maxGuestLines {
		h.log.Log(ctx, level, "further output of this instance dropped", "source", "plugin")
		return
	}
	h.log.Log(ctx, level, string(line), "source", "plugin", "fd", o.fd)
}

// forget flushes and drops the output state of a closed instance.
func (h *hostEnv) forget(m api.Module) {
	if v, ok := h.out.LoadAndDelete(m); ok {
		o := v.(*guestOutput)
		o.mu.Lock()
		h.emit(context.Background(), o)
		o.mu.Unlock()
	}
}

// procExit ends the guest like wazero's WASI does: close the module with the
// code and unwind with sys.ExitError. The instance is then discarded.
func procExit(ctx context.Context, m api.Module, stack []uint64) {
	code := uint32(stack[0])
	_ = m.CloseWithExitCode(ctx, code)
	panic(sys.NewExitError(code))
}
