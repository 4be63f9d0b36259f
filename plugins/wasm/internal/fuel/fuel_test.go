package fuel

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/switchyard-dev/switchyard/plugins/wasm/internal/wasmbin"
)

// plenty is a budget no test call comes near.
const plenty = math.MaxInt64 / 2

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func instrument(t testing.TB, b []byte) []byte {
	t.Helper()
	out, err := Instrument(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// variants are the two extremes of the region threshold: the default folds
// every short region of the test guests into its opener's, "split" charges
// every region on its own (unchecked charges and exit checks everywhere).
var variants = []struct {
	name      string
	minRegion int64
}{{"default", MinRegion}, {"split", 1}}

func mustInstrument(t testing.TB, b []byte, minRegion int64) []byte {
	t.Helper()
	out, err := instrumentWith(b, minRegion)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// buildGoGuest builds ../wasmbin/testdata/goguest for wasip1 (c-shared).
func buildGoGuest(t testing.TB) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "go.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "../wasmbin/testdata/goguest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building Go guest: %v\n%s", err, msg)
	}
	return readFile(t, out)
}

// newRuntime returns a compiler-engine runtime with the "env" module that
// all.wasm imports and WASI preview1 for the C and Go guests.
func newRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2))
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if _, err := r.InstantiateWithConfig(ctx, readFile(t, "testdata/env.wasm"), wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	return r
}

// instance is one instantiated guest; fuel is nil for an original module.
type instance struct {
	mod  api.Module
	fuel api.MutableGlobal
}

func instantiate(t testing.TB, r wazero.Runtime, bin []byte, budget int64) instance {
	t.Helper()
	ctx := context.Background()
	cm, err := r.CompileModule(ctx, bin)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	cfg := wazero.NewModuleConfig().WithName("")
	hasInit := false
	for name := range cm.ExportedFunctions() {
		hasInit = hasInit || name == "_initialize"
	}
	var in instance
	dm, err := wasmbin.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	fueled := false
	for _, e := range dm.Exports {
		fueled = fueled || (e.Name == GlobalName && e.Kind == wasmbin.KindGlobal)
	}
	if fueled {
		// The start function and _initialize run under the budget too,
		// so set it between instantiation and initialisation.
		cfg = cfg.WithStartFunctions()
		m, err := r.InstantiateModule(ctx, cm, cfg)
		if err != nil {
			t.Fatalf("instantiate: %v", err)
		}
		in = instance{mod: m, fuel: m.ExportedGlobal(GlobalName).(api.MutableGlobal)}
		in.setFuel(budget)
		if hasInit {
			if _, err := m.ExportedFunction("_initialize").Call(ctx); err != nil {
				t.Fatalf("_initialize: %v", err)
			}
			if _, ok := t.(*testing.T); ok {
				t.Logf("_initialize used %d fuel", budget-in.fuelLeft())
			}
		}
		return in
	}
	if hasInit {
		cfg = cfg.WithStartFunctions("_initialize")
	}
	m, err := r.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	return instance{mod: m}
}

func (in instance) setFuel(v int64) {
	if in.fuel != nil {
		in.fuel.Set(uint64(v))
	}
}

func (in instance) fuelLeft() int64 { return int64(in.fuel.Get()) }

func (in instance) call(t testing.TB, name string, params ...uint64) ([]uint64, error) {
	t.Helper()
	fn := in.mod.ExportedFunction(name)
	if fn == nil {
		t.Fatalf("no export %q", name)
	}
	return fn.Call(context.Background(), params...)
}

func TestInstrumentSum(t *testing.T) {
	// sum(n) runs n+1 loop iterations of 14 (the last one exits). Folded,
	// the entry pays 5 (block, loop, end, local.get, end); split, the entry
	// pays 2 (block, loop) and the code after the block 2 (local.get, end),
	// and the block's end is skipped by the exit branch.
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			cost := func(n int64) int64 { return 5 + 14*(n+1) }
			if v.minRegion == 1 {
				cost = func(n int64) int64 { return 4 + 14*(n+1) }
			}
			r := newRuntime(t)
			in := instantiate(t, r, mustInstrument(t, readFile(t, "testdata/guest.wasm"), v.minRegion), plenty)
			for _, n := range []int64{0, 1, 10, 1000} {
				in.setFuel(plenty)
				res, err := in.call(t, "sum", uint64(n))
				if err != nil {
					t.Fatal(err)
				}
				if want := uint64(n * (n - 1) / 2); res[0] != want {
					t.Errorf("sum(%d) = %d, want %d", n, res[0], want)
				}
				if used := plenty - in.fuelLeft(); used != cost(n) {
					t.Errorf("sum(%d) used %d fuel, want %d", n, used, cost(n))
				}
			}
		})
	}
}

// TestFuelUsed checks the charge of whole calls against the cost model,
// counted by hand from guest.wat. It covers every way out of a function
// (final end, return, br_if and br_table to the function label) and calls,
// where the cached counter must reach the global.
func TestFuelUsed(t *testing.T) {
	// fib(n) makes L = F(n+1) leaf calls and L-1 inner ones. Folded, each
	// call pays 17 at entry; split, the entry pays 6, the else arm 10 and
	// the code after the if 1.
	fib := func(n int64, leaf, inner int64) int64 {
		a, b := int64(0), int64(1)
		for i := int64(0); i < n+1; i++ {
			a, b = b, a+b
		}
		return leaf*a + inner*(a-1)
	}
	tests := []struct {
		fn            string
		arg           uint64
		folded, split int64
	}{
		{"sum", 10, 5 + 14*11, 4 + 14*11},
		{"early", 0, 3 + 11, 1 + 11},
		{"early", 4, 3 + 11*5, 1 + 11*5},
		{"table_exit", 1, 2 + 8, 1 + 8},
		{"table_exit", 9, 2 + 8*9, 1 + 8*9},
		{"ret", 0, 7, 5 + 2},
		{"ret", 1, 7, 5},
		{"fib", 0, 17, 7},
		{"fib", 10, fib(10, 17, 17), fib(10, 7, 17)},
		{"copy", 0, 5, 5},
		{"copy", 7, 5, 5},
		{"copy", 65536, 5 + 65536>>BulkShift, 5 + 65536>>BulkShift},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			r := newRuntime(t)
			in := instantiate(t, r, mustInstrument(t, readFile(t, "testdata/guest.wasm"), v.minRegion), plenty)
			for _, tt := range tests {
				want := tt.folded
				if v.minRegion == 1 {
					want = tt.split
				}
				in.setFuel(plenty)
				if _, err := in.call(t, tt.fn, tt.arg); err != nil {
					t.Fatalf("%s(%d): %v", tt.fn, tt.arg, err)
				}
				if used := plenty - in.fuelLeft(); used != want {
					t.Errorf("%s(%d) used %d fuel, want %d", tt.fn, tt.arg, used, want)
				}
			}
		})
	}
}

// TestBudgetIsExact: a budget equal to a call's cost lets it finish with
// nothing left; one less traps and leaves the counter negative.
func TestBudgetIsExact(t *testing.T) {
	calls := []call{{"sum", []uint64{100}}, {"early", []uint64{3}}, {"fib", []uint64{12}}, {"ret", []uint64{0}}, {"copy", []uint64{4096}}}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			r := newRuntime(t)
			in := instantiate(t, r, mustInstrument(t, readFile(t, "testdata/guest.wasm"), v.minRegion), plenty)
			for _, c := range calls {
				in.setFuel(plenty)
				if _, err := in.call(t, c.fn, c.params...); err != nil {
					t.Fatal(err)
				}
				need := plenty - in.fuelLeft()

				in.setFuel(need)
				if _, err := in.call(t, c.fn, c.params...); err != nil {
					t.Fatalf("%s%v, budget %d (exact): %v", c.fn, c.params, need, err)
				}
				if left := in.fuelLeft(); left != 0 {
					t.Fatalf("%s%v: fuel left after exact budget = %d, want 0", c.fn, c.params, left)
				}
				in.setFuel(need - 1)
				if _, err := in.call(t, c.fn, c.params...); err == nil {
					t.Fatalf("%s%v, budget %d (one short) did not trap", c.fn, c.params, need-1)
				}
				if left := in.fuelLeft(); left >= 0 {
					t.Fatalf("%s%v: fuel after exhaustion = %d, want negative", c.fn, c.params, left)
				}
			}
		})
	}
}

func TestExhaustion(t *testing.T) {
	tests := []struct {
		name   string
		fn     string
		params []uint64
		budget int64
	}{
		{"infinite loop", "spin", nil, 1_000_000},
		{"infinite recursion", "recurse", []uint64{0}, 10_000},
		{"zero budget traps at once", "sum", []uint64{5}, 0},
		{"long loop", "sum", []uint64{1 << 40}, 1_000_000},
	}
	for _, v := range variants {
		r := newRuntime(t)
		in := instantiate(t, r, mustInstrument(t, readFile(t, "testdata/guest.wasm"), v.minRegion), plenty)
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				in.setFuel(tt.budget)
				_, err := in.call(t, tt.fn, tt.params...)
				if err == nil {
					t.Fatal("call returned; want a trap")
				}
				if left := in.fuelLeft(); left >= 0 {
					t.Fatalf("fuel after trap = %d, want negative (err %v)", left, err)
				}
			})
		}
	}
}

// TestBulkOperationsPayForLength guards the budget against one instruction
// doing unbounded work: a loop of large memory.fill calls must stop after
// about budget / (n >> BulkShift) iterations, not budget / (static cost).
func TestBulkOperationsPayForLength(t *testing.T) {
	r := newRuntime(t)
	in := instantiate(t, r, instrument(t, readFile(t, "testdata/guest.wasm")), plenty)
	const n, budget = 131072, 1_000_000
	in.setFuel(budget)
	if _, err := in.call(t, "fill_spin", n); err == nil {
		t.Fatal("fill_spin returned")
	}
	if left := in.fuelLeft(); left >= 0 {
		t.Fatalf("fuel after trap = %d, want negative", left)
	}
	iters := int64(int32(in.mod.ExportedGlobal("iters").Get()))
	if max := int64(budget/(n>>BulkShift)) + 1; iters > max || iters < max-1 {
		t.Fatalf("fill_spin ran %d iterations on budget %d, want about %d", iters, budget, max)
	}
}

// TestOtherTrapsLeaveFuel: a trap that is not exhaustion leaves the counter
// non-negative, so the host can tell the two apart.
func TestOtherTrapsLeaveFuel(t *testing.T) {
	r := newRuntime(t)
	in := instantiate(t, r, instrument(t, readFile(t, "../wasmbin/testdata/all.wasm")), plenty)
	in.setFuel(1_000_000)
	if _, err := in.call(t, "control", 0); err == nil { // control(0) executes unreachable
		t.Fatal("control(0) did not trap")
	}
	if left := in.fuelLeft(); left < 0 {
		t.Fatalf("fuel after guest trap = %d, want >= 0", left)
	}
}

// call is one export call with its arguments, run on the original and the
// instrumented module.
type call struct {
	fn     string
	params []uint64
}

func TestSameResults(t *testing.T) {
	tests := []struct {
		name  string
		bin   func(t testing.TB) []byte
		calls []call
	}{
		{"wat guest", func(t testing.TB) []byte { return readFile(t, "testdata/guest.wasm") }, []call{
			{"sum", []uint64{12345}}, {"fib", []uint64{20}}, {"checksum", []uint64{65536}}, {"pairs", []uint64{7}},
		}},
		{"wat all", func(t testing.TB) []byte { return readFile(t, "../wasmbin/testdata/all.wasm") }, []call{
			{"control", []uint64{5}}, {"control", []uint64{99}}, {"multi", nil}, {"mem", []uint64{64}},
			{"numeric", []uint64{0xF0, 1 << 40, uint64(math.Float32bits(2.5)), math.Float64bits(-3.75)}},
		}},
		{"c", func(t testing.TB) []byte { return readFile(t, "../wasmbin/testdata/c.wasm") }, []call{
			{"checksum", []uint64{65536}}, {"fib", []uint64{20}}, {"sorted_median", []uint64{1000}},
		}},
		{"rust", func(t testing.TB) []byte { return readFile(t, "../wasmbin/testdata/rust.wasm") }, []call{
			{"checksum", []uint64{65536}}, {"fib", []uint64{20}}, {"words", []uint64{4096}},
			{"float", []uint64{math.Float64bits(1e30)}},
		}},
		{"go", buildGoGuest, []call{
			{"fill", []uint64{42}}, {"checksum", []uint64{65536}}, {"fib", []uint64{20}}, {"words", []uint64{100}},
		}},
	}
	for _, tt := range tests {
		bin := tt.bin(t)
		for _, v := range variants {
			t.Run(tt.name+"/"+v.name, func(t *testing.T) {
				r := newRuntime(t)
				orig := instantiate(t, r, bin, 0)
				inst := instantiate(t, r, mustInstrument(t, bin, v.minRegion), plenty)
				for _, c := range tt.calls {
					want, werr := orig.call(t, c.fn, c.params...)
					inst.setFuel(plenty)
					got, gerr := inst.call(t, c.fn, c.params...)
					if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
						t.Errorf("%s%v: instrumented %v (%v), original %v (%v)", c.fn, c.params, got, gerr, want, werr)
					}
					used := plenty - inst.fuelLeft()
					if used <= 0 {
						t.Errorf("%s%v used %d fuel", c.fn, c.params, used)
					}
					t.Logf("%s%v used %d fuel", c.fn, c.params, used)
				}
			})
		}
	}
}

func TestInstrumentStructure(t *testing.T) {
	in := readFile(t, "../wasmbin/testdata/all.wasm")
	orig := bytes.Clone(in)
	out := instrument(t, in)
	if !bytes.Equal(in, orig) {
		t.Fatal("Instrument modified its input")
	}
	before, err := wasmbin.Decode(orig)
	if err != nil {
		t.Fatal(err)
	}
	after, err := wasmbin.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	wantIdx := uint32(before.NumImported(wasmbin.KindGlobal) + len(before.Globals))
	if !reflect.DeepEqual(after.Globals[:len(before.Globals)], before.Globals) {
		t.Error("existing globals changed")
	}
	if g := after.Globals[len(after.Globals)-1]; g.Type != (wasmbin.GlobalType{Type: wasmbin.I64, Mutable: true}) {
		t.Errorf("fuel global type = %+v", g.Type)
	}
	last := after.Exports[len(after.Exports)-1]
	if last != (wasmbin.Export{Name: GlobalName, Kind: wasmbin.KindGlobal, Index: wantIdx}) {
		t.Errorf("fuel export = %+v, want global %d", last, wantIdx)
	}
	// Sections other than code, global and export keep their bytes.
	if len(before.Sections) != len(after.Sections) {
		t.Fatalf("section count %d → %d", len(before.Sections), len(after.Sections))
	}
	for i, s := range before.Sections {
		switch s.ID {
		case wasmbin.SecCode, wasmbin.SecGlobal, wasmbin.SecExport:
			continue
		}
		if !bytes.Equal(s.Raw, after.Sections[i].Raw) {
			t.Errorf("section %d (id %d) changed", i, s.ID)
		}
	}
	if _, err := Instrument(out); !errors.Is(err, ErrAlreadyInstrumented) {
		t.Fatalf("instrumenting twice: err = %v, want ErrAlreadyInstrumented", err)
	}
}

// TestInstrumentAddsSections: a module without globals or exports gets both
// sections, in spec order.
func TestInstrumentAddsSections(t *testing.T) {
	// (module (func (loop (br 0))))
	in := []byte{0, 'a', 's', 'm', 1, 0, 0, 0,
		1, 4, 1, 0x60, 0, 0,
		3, 2, 1, 0,
		10, 9, 1, 7, 0, 0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B}
	out := instrument(t, in)
	r := newRuntime(t)
	if _, err := r.CompileModule(context.Background(), out); err != nil {
		t.Fatalf("instrumented module does not compile: %v", err)
	}
	m, err := wasmbin.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Globals) != 1 || len(m.Exports) != 1 || m.Exports[0].Index != 0 {
		t.Fatalf("globals %+v exports %+v", m.Globals, m.Exports)
	}
	// The start budget applies until the host sets the counter.
	inst, err := r.Instantiate(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(inst.ExportedGlobal(GlobalName).Get()); got != StartFuel {
		t.Fatalf("initial fuel = %d, want StartFuel", got)
	}
}

func TestInstrumentRejectsBadInput(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("not wasm"), {0, 'a', 's', 'm', 1, 0, 0, 0, 10, 1}} {
		if _, err := Instrument(in); err == nil {
			t.Errorf("Instrument(% x) succeeded", in)
		}
	}
}

// TestStartFunctionRunsOnStartFuel: the start section runs during
// instantiation on StartFuel; one that never returns traps there.
func TestStartFunctionRunsOnStartFuel(t *testing.T) {
	// (module (func $s (loop (br 0))) (start $s))
	in := []byte{0, 'a', 's', 'm', 1, 0, 0, 0,
		1, 4, 1, 0x60, 0, 0,
		3, 2, 1, 0,
		8, 1, 0,
		10, 9, 1, 7, 0, 0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B}
	r := newRuntime(t)
	if _, err := r.Instantiate(context.Background(), instrument(t, in)); err == nil {
		t.Fatal("start function that loops forever did not trap")
	}
}
