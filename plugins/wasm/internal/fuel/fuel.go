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
// infinite loop or recursion always exhausts any budget. Bulk memory and
// table operations also pay for their length when they run (BulkShift).
// The inserted accounting code itself is not counted.
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

// ErrBadTypeIndex is returned for a function whose type index is out of range.
var ErrBadTypeIndex = errors.New("fuel: function type index out of range")

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

	nImportedFuncs := m.NumImported(wasmbin.KindFunc)
	var r rewriter
	code := make([]wasmbin.Code, len(m.Code))
	extra := 0
	for i := range m.Code {
		c := m.Code[i]
		ti := m.Funcs[i]
		if int(ti) >= len(m.Types) {
			return nil, fmt.Errorf("fuel: function %d: %w", nImportedFuncs+i, ErrBadTypeIndex)
		}
		// The cached counter is a new local after the params and the
		// declared locals, so no local index shifts.
		local := uint64(len(m.Types[ti].Params))
		for _, l := range c.Locals {
			local += uint64(l.Count)
		}
		if local+2 > 1<<32 { // room for the counter and the scratch local
			return nil, fmt.Errorf("fuel: function %d: %w", nImportedFuncs+i, wasmbin.ErrTooManyLocals)
		}
		c.Body, err = r.body(c.Body, fuelIdx, uint32(local))
		if err != nil {
			return nil, fmt.Errorf("fuel: function %d: %w", nImportedFuncs+i, err)
		}
		c.Locals = append(c.Locals[:len(c.Locals):len(c.Locals)], wasmbin.LocalDecl{Count: 1, Type: wasmbin.I64})
		if r.bulk {
			// The scratch local for bulk operation lengths, at local+1.
			c.Locals = append(c.Locals, wasmbin.LocalDecl{Count: 1, Type: wasmbin.I32})
		}
		extra += len(c.Body) - len(m.Code[i].Body) + 8
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
	labels []uint32
	fuel   uint32 // global index
	local  uint32 // local index of the cached counter; local+1 is the i32 scratch
	bulk   bool   // the function has a bulk operation, so it needs the scratch local
}

// body returns a new function body with fuel accounting inserted.
//
// Why a local? Within one activation the counter lives in a local, which
// wazero keeps in a register: a loop header then costs a subtract, a
// compare and a branch instead of loads and a store of the global (on the
// tightest WAT loop of BenchmarkFuelOverhead: 33% overhead with the global
// alone, 17% with the local; C 12% → 6%, Go 17% → 9%). The global stays the truth at every
// boundary the host or another function can observe: the local is loaded
// from it on entry and after each call, and stored back before each call,
// return, branch out of the function, the final end, and the exhaustion
// trap. A trap of any other kind leaves the global at the last stored
// value, which is at least the true remainder and so never negative.
func (r *rewriter) body(body []byte, fuelIdx, local uint32) ([]byte, error) {
	r.fuel, r.local, r.bulk = fuelIdx, local, false
	// Pass 1: the static cost of each region.
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
		case wasmbin.OpPrefixFC:
			r.bulk = r.bulk || isBulk(in.Sub)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Pass 2: copy the body, inserting the accounting.
	out := make([]byte, 0, len(body)+len(r.points)*maxChargeLen+64)
	out = r.appendLoad(out)
	out = r.appendCharge(out, r.points[0].cost)
	next := 1 // next loop point
	err = wasmbin.WalkCode(body, func(in wasmbin.Instr, depth int) error {
		// depth-1 is the label of the function body: a branch to it returns.
		switch in.Op {
		case wasmbin.OpCall, wasmbin.OpCallIndirect:
			out = r.appendStore(out)
			out = append(out, body[in.Start:in.End]...)
			out = r.appendLoad(out)
			return nil
		case wasmbin.OpReturn, wasmbin.OpReturnCall, wasmbin.OpReturnCallIn:
			out = r.appendStore(out)
		case wasmbin.OpBr, wasmbin.OpBrIf:
			if in.Imm == int64(depth-1) {
				out = r.appendStore(out)
			}
		case wasmbin.OpBrTable:
			r.labels, err = wasmbin.BrTableLabels(body, in, r.labels[:0])
			if err != nil {
				return err
			}
			for _, l := range r.labels {
				if l == uint32(depth-1) {
					out = r.appendStore(out)
					break
				}
			}
		case wasmbin.OpEnd:
			if depth == 1 {
				out = r.appendStore(out)
			}
		case wasmbin.OpPrefixFC:
			if isBulk(in.Sub) {
				out = r.appendBulkCharge(out)
			}
		}
		out = append(out, body[in.Start:in.End]...)
		if in.Op == wasmbin.OpLoop {
			out = r.appendCharge(out, r.points[next].cost)
			next++
		}
		return nil
	})
	return out, err
}

// maxChargeLen bounds the size of one charge sequence.
const maxChargeLen = 48

// appendLoad appends: local = fuel.
func (r *rewriter) appendLoad(dst []byte) []byte {
	dst = append(dst, wasmbin.OpGlobalGet)
	dst = wasmbin.AppendU32(dst, r.fuel)
	dst = append(dst, wasmbin.OpLocalSet)
	return wasmbin.AppendU32(dst, r.local)
}

// appendStore appends: fuel = local.
func (r *rewriter) appendStore(dst []byte) []byte {
	dst = append(dst, wasmbin.OpLocalGet)
	dst = wasmbin.AppendU32(dst, r.local)
	dst = append(dst, wasmbin.OpGlobalSet)
	return wasmbin.AppendU32(dst, r.fuel)
}

// BulkShift sets the dynamic charge of bulk operations: on top of their
// static cost of 1, memory.init/copy/fill and table.init/copy/grow/fill pay
// one unit of fuel per 2^BulkShift bytes or elements of their length
// operand. Why? Each is one instruction but can touch all of memory: a loop
// of 128 KiB fills would otherwise run for seconds on a budget meant for
// milliseconds. Copying 8 bytes takes about as long as a few plain
// instructions, so 1 per 8 keeps the time per unit of fuel close to that of
// ordinary code.
const BulkShift = 3

// isBulk reports whether the 0xFC sub-opcode takes a length as its last
// operand.
func isBulk(sub uint32) bool {
	switch sub {
	case 8, 10, 11, 12, 14, 15, 17: // memory.init/copy/fill, table.init/copy/grow/fill
		return true
	}
	return false
}

// appendBulkCharge appends, before a bulk operation whose length n is on
// top of the stack: scratch = n; local -= n >> BulkShift; trap if negative;
// push scratch back.
func (r *rewriter) appendBulkCharge(dst []byte) []byte {
	dst = append(dst, wasmbin.OpLocalSet)
	dst = wasmbin.AppendU32(dst, r.local+1)
	dst = append(dst, wasmbin.OpLocalGet)
	dst = wasmbin.AppendU32(dst, r.local)
	dst = append(dst, wasmbin.OpLocalGet)
	dst = wasmbin.AppendU32(dst, r.local+1)
	dst = append(dst, 0xAD /* i64.extend_i32_u */, wasmbin.OpI64Const, BulkShift, 0x88 /* i64.shr_u */)
	dst = r.appendSubCheck(dst)
	dst = append(dst, wasmbin.OpLocalGet)
	return wasmbin.AppendU32(dst, r.local+1)
}

// appendCharge appends: local -= cost; if local < 0 { fuel = local; unreachable }.
func (r *rewriter) appendCharge(dst []byte, cost int64) []byte {
	dst = append(dst, wasmbin.OpLocalGet)
	dst = wasmbin.AppendU32(dst, r.local)
	dst = append(dst, wasmbin.OpI64Const)
	dst = wasmbin.AppendS64(dst, cost)
	return r.appendSubCheck(dst)
}

// appendSubCheck appends, with the counter and an amount on the stack:
// local = counter - amount; if local < 0 { fuel = local; unreachable }.
func (r *rewriter) appendSubCheck(dst []byte) []byte {
	dst = append(dst, wasmbin.OpI64Sub, wasmbin.OpLocalTee)
	dst = wasmbin.AppendU32(dst, r.local)
	dst = append(dst, wasmbin.OpI64Const, 0x00, wasmbin.OpI64LtS, wasmbin.OpIf, 0x40)
	dst = r.appendStore(dst)
	return append(dst, wasmbin.OpUnreachable, wasmbin.OpEnd)
}
