package wasmbin

import "fmt"

// Control and variable opcodes a rewriter needs by name.
const (
	OpUnreachable  byte = 0x00
	OpNop          byte = 0x01
	OpBlock        byte = 0x02
	OpLoop         byte = 0x03
	OpIf           byte = 0x04
	OpElse         byte = 0x05
	OpEnd          byte = 0x0B
	OpBr           byte = 0x0C
	OpBrIf         byte = 0x0D
	OpBrTable      byte = 0x0E
	OpReturn       byte = 0x0F
	OpCall         byte = 0x10
	OpCallIndirect byte = 0x11
	OpReturnCall   byte = 0x12
	OpReturnCallIn byte = 0x13
	OpLocalGet     byte = 0x20
	OpLocalSet     byte = 0x21
	OpLocalTee     byte = 0x22
	OpGlobalGet    byte = 0x23
	OpGlobalSet    byte = 0x24
	OpI32Const     byte = 0x41
	OpI64Const     byte = 0x42
	OpI64LtS       byte = 0x53
	OpI64Sub       byte = 0x7D
	OpPrefixFC     byte = 0xFC
	OpPrefixFD     byte = 0xFD
)

// BlockEmpty is the block type of a block without params or results.
const BlockEmpty int64 = -0x40

// Instr is one decoded instruction. Start and End are its byte offsets in the
// code it was read from; the bytes between them are its exact encoding.
type Instr struct {
	Op  byte   // first byte
	Sub uint32 // sub-opcode after a 0xFC or 0xFD prefix
	// Imm is the first immediate: label, index, block type (as the s33
	// value: negative for value types and empty), or constant bits.
	Imm   int64
	Start int
	End   int
}

// ReadInstr decodes the instruction at code[pos:]. It never panics: every
// immediate is bounds-checked. It does not check types or index ranges.
func ReadInstr(code []byte, pos int) (Instr, error) {
	in := Instr{Start: pos}
	if pos >= len(code) {
		return in, ErrUnexpectedEOF
	}
	op := code[pos]
	in.Op = op
	p := pos + 1
	var err error
	var u uint32
	switch {
	case op == OpUnreachable, op == OpNop, op == OpElse, op == OpEnd, op == OpReturn,
		op == 0x1A, op == 0x1B, // drop, select
		op >= 0x45 && op <= 0xC4, // numeric, sign extension
		op == 0xD1:               // ref.is_null
	case op == OpBlock, op == OpLoop, op == OpIf:
		in.Imm, p, err = readBlockType(code, p)
	case op == OpBr, op == OpBrIf, op == OpCall, op == OpReturnCall,
		op >= OpLocalGet && op <= 0x26, // local.*, global.*, table.get/set
		op == 0xD2:                     // ref.func
		u, p, err = readU32(code, p)
		in.Imm = int64(u)
	case op == OpBrTable:
		var n uint32
		n, p, err = readU32(code, p)
		for i := uint64(0); err == nil && i <= uint64(n); i++ { // n labels + default
			_, p, err = readU32(code, p)
		}
		in.Imm = int64(n)
	case op == OpCallIndirect, op == OpReturnCallIn:
		u, p, err = readU32(code, p) // type index
		in.Imm = int64(u)
		if err == nil {
			_, p, err = readU32(code, p) // table index
		}
	case op == 0x1C: // select t*
		var n uint32
		n, p, err = readU32(code, p)
		if err == nil && uint64(n) > uint64(len(code)-p) {
			err = ErrUnexpectedEOF
		}
		if err == nil {
			for i := uint32(0); i < n; i++ {
				if !isValType(code[p]) {
					return in, fmt.Errorf("%w: select type 0x%02x", ErrMalformed, code[p])
				}
				p++
			}
		}
	case op >= 0x28 && op <= 0x3E: // loads and stores
		p, err = skipMemArg(code, p)
	case op == 0x3F, op == 0x40: // memory.size, memory.grow
		u, p, err = readU32(code, p)
		in.Imm = int64(u)
	case op == OpI32Const:
		var v int32
		v, p, err = readS32(code, p)
		in.Imm = int64(v)
	case op == OpI64Const:
		in.Imm, p, err = readS64(code, p)
	case op == 0x43:
		p, err = skipBytes(code, p, 4)
	case op == 0x44:
		p, err = skipBytes(code, p, 8)
	case op == 0xD0: // ref.null t
		if p >= len(code) {
			return in, ErrUnexpectedEOF
		}
		if c := code[p]; c != FuncRef && c != ExternRef {
			return in, fmt.Errorf("%w: ref.null type 0x%02x", ErrMalformed, c)
		}
		p++
	case op == OpPrefixFC:
		in.Sub, p, err = readU32(code, p)
		if err == nil {
			p, err = readFC(code, p, in.Sub)
		}
	case op == OpPrefixFD:
		in.Sub, p, err = readU32(code, p)
		if err == nil {
			p, err = readFD(code, p, in.Sub)
		}
	default:
		return in, fmt.Errorf("%w: 0x%02x", ErrUnknownOpcode, op)
	}
	in.End = p
	return in, err
}

// readFC reads the immediates of the 0xFC family (saturating truncation,
// bulk memory, table operations).
func readFC(code []byte, p int, sub uint32) (int, error) {
	var err error
	n := 0
	switch {
	case sub <= 7: // trunc_sat
	case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
		n = 1 // data.drop, memory.fill, elem.drop, table.grow/size/fill
	case sub == 8, sub == 10, sub == 12, sub == 14:
		n = 2 // memory.init, memory.copy, table.init, table.copy
	default:
		return p, fmt.Errorf("%w: 0xfc %d", ErrUnknownOpcode, sub)
	}
	for i := 0; i < n && err == nil; i++ {
		_, p, err = readU32(code, p)
	}
	return p, err
}

// readFD reads the immediates of a SIMD instruction.
func readFD(code []byte, p int, sub uint32) (int, error) {
	switch {
	case sub <= 11, sub == 92, sub == 93: // v128 loads/stores, load*_zero
		return skipMemArg(code, p)
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		return skipBytes(code, p, 16)
	case sub >= 21 && sub <= 34: // extract/replace lane
		return skipBytes(code, p, 1)
	case sub >= 84 && sub <= 91: // load/store lane
		p, err := skipMemArg(code, p)
		if err != nil {
			return p, err
		}
		return skipBytes(code, p, 1)
	case sub <= 0x113: // everything else, relaxed SIMD included, has none
		return p, nil
	}
	return p, fmt.Errorf("%w: 0xfd %d", ErrUnknownOpcode, sub)
}

// skipMemArg skips align (with the multi-memory index flag, bit 6) and offset.
func skipMemArg(code []byte, p int) (int, error) {
	align, p, err := readU32(code, p)
	if err != nil {
		return p, err
	}
	if align&0x40 != 0 {
		if _, p, err = readU32(code, p); err != nil {
			return p, err
		}
	}
	_, p, err = readU32(code, p)
	return p, err
}

func skipBytes(code []byte, p, n int) (int, error) {
	if len(code)-p < n {
		return len(code), ErrUnexpectedEOF
	}
	return p + n, nil
}

// readBlockType reads a block type: 0x40, a value type, or an s33 type index.
func readBlockType(code []byte, p int) (int64, int, error) {
	if p >= len(code) {
		return 0, p, ErrUnexpectedEOF
	}
	if c := code[p]; c == 0x40 || isValType(c) {
		return int64(c) - 0x80, p + 1, nil
	}
	v, p, err := readS33(code, p)
	if err == nil && v < 0 {
		err = fmt.Errorf("%w: block type %d", ErrMalformed, v)
	}
	return v, p, err
}

func isValType(c byte) bool {
	switch c {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

// WalkCode checks that body is a well-nested instruction sequence ending
// with the end of the outermost block, calling fn (if non-nil) for every
// instruction in order. depth is the number of open blocks before the
// instruction (the function body counts as one).
func WalkCode(body []byte, fn func(in Instr, depth int) error) error {
	depth := 1
	for p := 0; p < len(body); {
		in, err := ReadInstr(body, p)
		if err != nil {
			return fmt.Errorf("offset %d: %w", p, err)
		}
		if fn != nil {
			if err := fn(in, depth); err != nil {
				return err
			}
		}
		switch in.Op {
		case OpBlock, OpLoop, OpIf:
			depth++
		case OpEnd:
			depth--
			if depth == 0 {
				if in.End != len(body) {
					return fmt.Errorf("%w: %d bytes after final end", ErrUnbalancedBlock, len(body)-in.End)
				}
				return nil
			}
		}
		p = in.End
	}
	return ErrUnbalancedBlock
}

// BrTableLabels appends the labels of the br_table in (read from code) to
// dst, default label last, and returns it.
func BrTableLabels(code []byte, in Instr, dst []uint32) ([]uint32, error) {
	if in.Op != OpBrTable {
		return dst, fmt.Errorf("%w: not br_table", ErrMalformed)
	}
	n, p, err := readU32(code, in.Start+1)
	for i := uint64(0); err == nil && i <= uint64(n); i++ {
		var l uint32
		if l, p, err = readU32(code, p); err == nil {
			dst = append(dst, l)
		}
	}
	return dst, err
}
