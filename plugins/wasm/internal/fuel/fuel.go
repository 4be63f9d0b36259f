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
// Every Wasm instruction costs 1 (block, loop, if, else, end and branches
// included); the inserted accounting code costs nothing. Bulk memory and
// table operations also pay for their length when they run (BulkShift).
//
// The body of a function is cut into regions, each starting at a charge
// point: the function entry, every loop header (the first instruction
// inside a loop, so every iteration pays, whether it fell in or branched
// back), and the instruction after every else and inner end. A region ends
// where the next one starts. Every branch target is a region start, so
// control enters a region only at its start and, inside it, moves only
// forward; each point charges the static count of its region in advance.
// Regions shorter than MinRegion do not get a charge of their own: their
// count is added to the region that holds the opening block, loop or if of
// the construct they follow, which runs exactly once before each of their
// entries. Either way the fuel charged is an upper bound on the guest
// instructions executed: it over-counts arms not taken and early exits.
//
// The counter is checked (a negative value executes unreachable) at
// function entry, at loop headers, at bulk operations and before the
// function returns; the other charges only subtract. Every unbounded
// execution passes an entry or a loop header infinitely often, and every
// region costs at least 1, so an infinite loop or recursion always runs out.
// A budget of N admits exactly the calls whose charges total at most N; a
// call that returns normally never leaves the counter negative.
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
	return instrumentWith(module, MinRegion)
}

// instrumentWith is Instrument with the region threshold as a parameter, so
// tests can charge every region separately (minRegion 1).
func instrumentWith(module []byte, minRegion int64) ([]byte, error) {
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
	r := rewriter{minRegion: minRegion}
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
// Checked points (function entry, loop headers) trap when the counter goes
// negative; the others (after else and end) only subtract.
type point struct {
	at    int
	cost  int64
	check bool
	owner int // index of the region holding the opener of the construct this point follows
}

// rewriter holds scratch space reused across the functions of one module.
type rewriter struct {
	points []point
	open   []int // for each open block, loop and if: the region holding its opener
	labels []uint32
	fuel   uint32 // global index
	local  uint32 // local index of the cached counter; local+1 is the i32 scratch
	bulk   bool   // the function has a bulk operation, so it needs the scratch local

	minRegion int64 // see MinRegion
}

// body returns a new function body with fuel accounting inserted.
//
// Why a local? Within one activation the counter lives in a local, which
// wazero keeps in a register: a loop header then costs a subtract, a
// compare and a branch instead of loads and a store of the global (on the
// tightest WAT loop of BenchmarkFuelOverhead: 33% overhead with the global
// alone, 17% with the local; C 12% → 6%, Go 17% → 9%). The global stays the
// truth at every boundary the host or another function can observe: the
// local is loaded from it on entry and after each call, and stored back
// before each call, return, branch out of the function, the final end, and
// the exhaustion trap. A trap of any other kind leaves the global at the
// last stored value, which is at least the true remainder and so never
// negative.
func (r *rewriter) body(body []byte, fuelIdx, local uint32) ([]byte, error) {
	r.fuel, r.local, r.bulk = fuelIdx, local, false
	// Pass 1: cut the body into regions and count their instructions.
	r.points = append(r.points[:0], point{at: 0, check: true})
	r.open = r.open[:0]
	err := wasmbin.WalkCode(body, func(in wasmbin.Instr, depth int) error {
		cur := len(r.points) - 1
		r.points[cur].cost++
		switch in.Op {
		case wasmbin.OpBlock, wasmbin.OpIf:
			r.open = append(r.open, cur)
		case wasmbin.OpLoop:
			r.open = append(r.open, cur)
			r.points = append(r.points, point{at: in.End, check: true})
		case wasmbin.OpElse:
			if len(r.open) > 0 {
				r.points = append(r.points, point{at: in.End, owner: r.open[len(r.open)-1]})
			}
		case wasmbin.OpEnd:
			if depth > 1 && len(r.open) > 0 {
				owner := r.open[len(r.open)-1]
				r.open = r.open[:len(r.open)-1]
				r.points = append(r.points, point{at: in.End, owner: owner})
			}
		case wasmbin.OpPrefixFC:
			r.bulk = r.bulk || isBulk(in.Sub)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Fold short unchecked regions into their owner: every entry into such
	// a region follows exactly one execution of its construct's opener, so
	// the owner's charge still covers it. Owners precede their points, so
	// folding from the end moves costs along chains of short regions.
	for i := len(r.points) - 1; i > 0; i-- {
		if p := &r.points[i]; !p.check && p.cost < r.minRegion {
			r.points[p.owner].cost += p.cost
			p.cost = 0
		}
	}
	// Pass 2: copy the body, inserting the accounting.
	out := make([]byte, 0, len(body)+len(r.points)*maxChargeLen+64)
	out = r.appendLoad(out)
	out = r.appendCharge(out, r.points[0])
	next := 1
	err = wasmbin.WalkCode(body, func(in wasmbin.Instr, depth int) error {
		// depth-1 is the label of the function body: a branch to it returns.
		switch in.Op {
		case wasmbin.OpCall, wasmbin.OpCallIndirect:
			out = r.appendStore(out)
			out = append(out, body[in.Start:in.End]...)
			out = r.appendLoad(out)
			return nil
		case wasmbin.OpReturn, wasmbin.OpReturnCall, wasmbin.OpReturnCallIn:
			out = r.appendExit(out)
		case wasmbin.OpBr, wasmbin.OpBrIf:
			if in.Imm == int64(depth-1) {
				out = r.appendExit(out)
			}
		case wasmbin.OpBrTable:
			r.labels, err = wasmbin.BrTableLabels(body, in, r.labels[:0])
			if err != nil {
				return err
			}
			for _, l := range r.labels {
				if l == uint32(depth-1) {
					out = r.appendExit(out)
					break
				}
			}
		case wasmbin.OpEnd:
			if depth == 1 {
				out = r.appendExit(out)
			}
		case wasmbin.OpPrefixFC:
			if isBulk(in.Sub) {
				out = r.appendBulkCharge(out)
			}
		}
		out = append(out, body[in.Start:in.End]...)
		if next < len(r.points) && r.points[next].at == in.End {
			if r.points[next].cost > 0 {
				out = r.appendCharge(out, r.points[next])
			}
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

// MinRegion is the shortest region (in instructions) that gets a charge of
// its own after an else or end; shorter ones are paid for in advance by the
// region that holds the opening block, loop or if. Why? A charge is a
// subtract, which in a hot loop full of short branches costs more than the
// precision is worth, while long regions charged on their own stop the
// overcharge of Go's big dispatch loops. Measured on the Go guest
// (BenchmarkFuelOverhead, TestSameResults -v):
//
//	MinRegion            checksum overhead   _initialize fuel
//	∞ (loops only)       9%                  11.5M
//	32                   9%                   7.9M
//	16                   13%                  3.6M
//	1 (every region)     17%                  1.3M
const MinRegion = 32

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

// appendCharge appends: local -= cost, and for a checked point: if local <
// 0 { fuel = local; unreachable }.
func (r *rewriter) appendCharge(dst []byte, p point) []byte {
	dst = append(dst, wasmbin.OpLocalGet)
	dst = wasmbin.AppendU32(dst, r.local)
	dst = append(dst, wasmbin.OpI64Const)
	dst = wasmbin.AppendS64(dst, p.cost)
	if p.check {
		return r.appendSubCheck(dst)
	}
	dst = append(dst, wasmbin.OpI64Sub, wasmbin.OpLocalSet)
	return wasmbin.AppendU32(dst, r.local)
}

// appendExit appends, before control leaves the function: fuel = local;
// if local < 0 { unreachable }. The check catches a budget overrun by the
// unchecked charges since the last checked point, so a call that returns
// normally never leaves a negative counter.
func (r *rewriter) appendExit(dst []byte) []byte {
	dst = r.appendStore(dst)
	dst = append(dst, wasmbin.OpLocalGet)
	dst = wasmbin.AppendU32(dst, r.local)
	return append(dst, wasmbin.OpI64Const, 0x00, wasmbin.OpI64LtS, wasmbin.OpIf, 0x40,
		wasmbin.OpUnreachable, wasmbin.OpEnd)
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
