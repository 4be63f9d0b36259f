// Package wasmbin decodes and encodes the WebAssembly binary format, so that
// plugins/wasm/internal/fuel can rewrite plugin modules at load time.
//
// It covers the core spec (2.0) plus the proposals Go, rustc and clang emit by
// default: sign extension, non-trapping float-to-int, bulk memory, reference
// types, multi-value, mutable globals, and SIMD (decoded with correct
// immediates and passed through). It checks structure — every length, index
// encoding and section order — but not types: wazero validates the result.
//
// Encoding keeps the original bytes of every section whose Raw is non-nil, so
// decode→encode of an untouched module is byte-identical, custom sections
// included and in place. A rewriter sets Raw to nil on the sections it changed
// and only those are re-encoded from the decoded fields.
//
// Owned by the plugin host (plugins/wasm). Values are not safe for concurrent
// mutation; a decoded Module aliases the input bytes, which must not change.
package wasmbin

import "errors"

// Errors returned by Decode. Decode wraps them with the offset and section.
var (
	ErrUnexpectedEOF   = errors.New("wasmbin: unexpected end of input")
	ErrIntTooLong      = errors.New("wasmbin: LEB128 integer too long")
	ErrIntOverflow     = errors.New("wasmbin: LEB128 integer overflows its type")
	ErrBadMagic        = errors.New("wasmbin: not a wasm module (bad magic or version)")
	ErrSectionOrder    = errors.New("wasmbin: section out of order or duplicated")
	ErrSectionSize     = errors.New("wasmbin: section size mismatch")
	ErrUnknownSection  = errors.New("wasmbin: unknown section id")
	ErrUnknownOpcode   = errors.New("wasmbin: unknown or unsupported opcode")
	ErrMalformed       = errors.New("wasmbin: malformed module")
	ErrFuncCodeCount   = errors.New("wasmbin: function and code section counts differ")
	ErrDataCount       = errors.New("wasmbin: data count and data section differ")
	ErrTooManyLocals   = errors.New("wasmbin: too many locals")
	ErrUnbalancedBlock = errors.New("wasmbin: unbalanced block structure")
)

// Section ids of the core spec.
const (
	SecCustom    byte = 0
	SecType      byte = 1
	SecImport    byte = 2
	SecFunction  byte = 3
	SecTable     byte = 4
	SecMemory    byte = 5
	SecGlobal    byte = 6
	SecExport    byte = 7
	SecStart     byte = 8
	SecElement   byte = 9
	SecCode      byte = 10
	SecData      byte = 11
	SecDataCount byte = 12
)

// sectionRank orders the non-custom sections as the spec requires; data count
// sits between element and code.
var sectionRank = [...]int{
	SecType: 1, SecImport: 2, SecFunction: 3, SecTable: 4, SecMemory: 5,
	SecGlobal: 6, SecExport: 7, SecStart: 8, SecElement: 9, SecDataCount: 10,
	SecCode: 11, SecData: 12,
}

// Value types.
const (
	I32       byte = 0x7F
	I64       byte = 0x7E
	F32       byte = 0x7D
	F64       byte = 0x7C
	V128      byte = 0x7B
	FuncRef   byte = 0x70
	ExternRef byte = 0x6F
)

// External kinds of imports and exports.
const (
	KindFunc   byte = 0
	KindTable  byte = 1
	KindMemory byte = 2
	KindGlobal byte = 3
)

// Module is a decoded module. Slices of bytes alias the input.
type Module struct {
	// Sections lists every section in file order, custom ones included.
	Sections []Section

	Types     []FuncType
	Imports   []Import
	Funcs     []uint32 // type index of each defined function
	Tables    []Table
	Memories  []Limits
	Globals   []Global
	Exports   []Export
	Start     uint32
	HasStart  bool
	Elements  []Element
	DataCount uint32
	HasCount  bool
	Code      []Code
	Data      []Data
}

// Section is one section as it appeared in the input.
type Section struct {
	ID byte
	// Raw is the whole section (id, size and payload) as read. The encoder
	// copies it verbatim when non-nil and re-encodes from Module otherwise.
	// Custom sections are always copied, so their Raw must stay set.
	Raw []byte
	// Name is the name of a custom section.
	Name string
}

// FuncType is a function signature.
type FuncType struct {
	Params, Results []byte
}

// Limits of a table or memory. Flags is the limits byte as read (bit 0: has
// max, bit 1: shared).
type Limits struct {
	Flags    byte
	Min, Max uint32
}

// Table is a table type.
type Table struct {
	RefType byte
	Limits  Limits
}

// GlobalType is a global's value type and mutability.
type GlobalType struct {
	Type    byte
	Mutable bool
}

// Import is one import. Kind selects which of the fields is meaningful.
type Import struct {
	Module, Name string
	Kind         byte
	TypeIndex    uint32 // KindFunc
	Table        Table  // KindTable
	Memory       Limits // KindMemory
	Global       GlobalType
}

// Global is a defined global. Init is the constant expression including its
// final end opcode.
type Global struct {
	Type GlobalType
	Init []byte
}

// Export is one export.
type Export struct {
	Name  string
	Kind  byte
	Index uint32
}

// Element is an element segment in any of its 8 encodings. Flags is the
// encoding as read: bit 0 passive/declarative, bit 1 explicit table index
// (active) or declarative (passive), bit 2 elements are expressions.
type Element struct {
	Flags  uint32
	Table  uint32
	Offset []byte   // active segments: constant expression incl. end
	Kind   byte     // elemkind (0x00) or reftype, when encoded
	Funcs  []uint32 // flags&4 == 0
	Exprs  [][]byte // flags&4 != 0: constant expressions incl. end
}

// Code is one function body.
type Code struct {
	Locals []LocalDecl
	// Body is the instruction sequence including the final end opcode.
	Body []byte
}

// LocalDecl declares Count locals of one type.
type LocalDecl struct {
	Count uint32
	Type  byte
}

// Data is a data segment: Flags 0 active memory 0, 1 passive, 2 active with
// explicit memory index.
type Data struct {
	Flags  uint32
	Memory uint32
	Offset []byte
	Init   []byte
}

// NumImported returns how many imports of the given kind the module has; the
// index space of that kind starts with them.
func (m *Module) NumImported(kind byte) int {
	n := 0
	for i := range m.Imports {
		if m.Imports[i].Kind == kind {
			n++
		}
	}
	return n
}

// MarkDirty makes the encoder re-encode section id from the decoded fields,
// inserting the section in spec order if the input had none.
func (m *Module) MarkDirty(id byte) {
	for i := range m.Sections {
		if m.Sections[i].ID == id {
			m.Sections[i].Raw = nil
			return
		}
	}
	// Insert before the first non-custom section that must follow id.
	at := len(m.Sections)
	for i := range m.Sections {
		s := m.Sections[i].ID
		if s != SecCustom && int(s) < len(sectionRank) && sectionRank[s] > sectionRank[id] {
			at = i
			break
		}
	}
	m.Sections = append(m.Sections, Section{})
	copy(m.Sections[at+1:], m.Sections[at:])
	m.Sections[at] = Section{ID: id}
}
