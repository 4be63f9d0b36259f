// Package fuel rewrites a Wasm module so that it runs on a CPU budget.
//
// Why not wazero's WithCloseOnContextDone? It makes loops 20–60× slower and
// allocates per call. Instead the plugin host (plugins/wasm) passes every
// plugin module through Instrument once at load; the rewritten module keeps
// a fuel counter in an exported mutable i64 global, the host stores the
// budget there before each call and reads it after a trap: a negative value
// means the budget ran out, anything else means the guest trapped on its own.
//
// # Cost model
//
// Fuel is charged at two kinds of points: function entry and loop header
// (the first instruction inside a loop, so every iteration pays, whether it
// entered by falling in or by a branch back). Each point charges the static
// size of its region: the number of instructions (every opcode counts 1,
// block/if/else/end and branches included) from that point up to the end of
// the function or loop body, leaving out the instructions inside nested
// loops, which belong to the nested loop's own point. Control only moves
// forward within a region except by branching to a loop header, which
// charges again, so each instruction runs at most once per charge: the fuel
// consumed is an upper bound on the number of guest instructions executed
// (it over-counts arms not taken and early exits). Callees pay for
// themselves at their entry. Every unbounded execution passes a charge point
// infinitely often, and every region costs at least 1 (its end), so an
// infinite loop or recursion always exhausts any budget.
//
// The counter is checked right after each charge: when it is below zero the
// guest executes unreachable. A budget of N therefore admits exactly the
// runs whose total charge is at most N.
package fuel

import (
	"errors"
	"fmt"

	"github.com/switchyard-dev/switchyard/plugins/wasm/internal/wasmbin"
)

// GlobalName is the export name of the injected mutable i64 fuel global.
const GlobalName = "switchyard_fuel"

// ErrAlreadyInstrumented is returned for a module that already exports
// GlobalName: instrumenting twice would charge twice and hide a guest that
// tries to preset its own budget.
var ErrAlreadyInstrumented = errors.New("fuel: module already exports " + GlobalName)

// StartFuel is the counter's initial value: the budget of the module's start
// function, which runs inside instantiation, before the host can set the
// counter. Without it a module with a start section could never be
// instantiated; with it a start function that loops forever still traps.
const StartFuel = 10_000_000

// Instrument returns a copy of the module that charges fuel (see the package
// doc for the cost model). The counter is a new mutable i64 global appended
// after the existing ones, so no index shifts, exported as GlobalName and
// initialised to StartFuel. Modules that already export GlobalName are
// refused. The input is not modified and the result does not alias it. Safe
// for concurrent use.
func Instrument(module []byte) ([]byte, error) {
	m, err := wasmbin.Decode(module)
	if err != nil {
		return nil, fmt.Errorf("fuel: %w", err)
	}
	for _, e := range m.Exports {
		if e.Name == GlobalName {
			return nil, ErrAlreadyInstrumented
		}
	}
	fuelIdx := uint32(m.NumImported(wasmbin.KindGlobal) + len(m.Globals))

	var r rewriter
	code := make([]wasmbin.Code, len(m.Code))
	extra := 0
	for i := range m.Code {
		c := m.Code[i]
		c.Body, err = r.body(c.Body, fuelIdx)
		if err != nil {
			return nil, fmt.Errorf("fuel: function %d: %w", i, err)
		}
		extra += len(c.Body) - len(m.Code[i].Body) + 5
		code[i] = c
	}
	m.Code = code
	m.Globals = append(m.Globals[:len(m.Globals):len(m.Globals)], wasmbin.Global{
		Type: wasmbin.GlobalType{Type: wasmbin.I64, Mutable: true},
		Init: append(wasmbin.AppendS64([]byte{wasmbin.OpI64Const}, StartFuel), wasmbin.OpEnd),
	})
	m.Exports = append(m.Exports[:len(m.Exports):len(m.Exports)], wasmbin.Export{
		Name: GlobalName, Kind: wasmbin.KindGlobal, Index: fuelIdx,
	})
	m.MarkDirty(wasmbin.SecCode)
	m.MarkDirty(wasmbin.SecGlobal)
	m.MarkDirty(wasmbin.SecExport)
	out, err := wasmbin.Encode(make([]byte, 0, len(module)+extra+64), m)
	if err != nil {
		return nil, fmt.Errorf("fuel: %w", err)
	}
	return out, nil
}

// point is one charge point: the charge sequence goes before body[at:].
type point struct {
	at   int
	cost int64
}

// rewriter holds scratch space reused across the functions of one module.
type rewriter struct {
	points []point
	stack  []int // region (index into points) of each open block
}

// body returns a new function body with charge sequences inserted.
func (r *rewriter) body(body []byte, fuelIdx uint32) ([]byte, error) {
	r.points = append(r.points[:0], point{at: 0})
	r.stack = append(r.stack[:0], 0)
	err := wasmbin.WalkCode(body, func(in wasmbin.Instr, _ int) error {
		cur := r.stack[len(r.stack)-1]
		r.points[cur].cost++
		switch in.Op {
		case wasmbin.OpBlock, wasmbin.OpIf:
			r.stack = append(r.stack, cur)
		case wasmbin.OpLoop:
			r.points = append(r.points, point{at: in.End})
			r.stack = append(r.stack, len(r.points)-1)
		case wasmbin.OpEnd:
			r.stack = r.stack[:len(r.stack)-1]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+len(r.points)*maxChargeLen)
	prev := 0
	for _, p := range r.points {
		out = append(out, body[prev:p.at]...)
		out = appendCharge(out, p.cost, fuelIdx)
		prev = p.at
	}
	return append(out, body[prev:]...), nil
}

// maxChargeLen bounds the size of one charge sequence.
const maxChargeLen = 40

// appendCharge appends: fuel -= cost; if fuel < 0 { unreachable }.
func appendCharge(dst []byte, cost int64, fuelIdx uint32) []byte {
	dst = append(dst, wasmbin.OpGlobalGet)
	dst = wasmbin.AppendU32(dst, fuelIdx)
	dst = append(dst, wasmbin.OpI64Const)
	dst = wasmbin.AppendS64(dst, cost)
	dst = append(dst, wasmbin.OpI64Sub, wasmbin.OpGlobalSet)
	dst = wasmbin.AppendU32(dst, fuelIdx)
	dst = append(dst, wasmbin.OpGlobalGet)
	dst = wasmbin.AppendU32(dst, fuelIdx)
	dst = append(dst, wasmbin.OpI64Const, 0x00, wasmbin.OpI64LtS,
		wasmbin.OpIf, 0x40, wasmbin.OpUnreachable, wasmbin.OpEnd)
	return dst
}
