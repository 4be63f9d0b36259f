package wasmbin

import (
	"fmt"
	"unicode/utf8"
)

var header = [8]byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// maxLocals caps the locals of one function: the spec allows up to 2^32-1,
// wazero refuses far fewer, and a cap keeps a hostile count from costing time.
const maxLocals = 50000

// Decode parses a whole module. The returned Module aliases b.
func Decode(b []byte) (*Module, error) {
	if len(b) < 8 || [8]byte(b[:8]) != header {
		return nil, ErrBadMagic
	}
	m := &Module{}
	lastRank := 0
	for p := 8; p < len(b); {
		start := p
		id := b[p]
		size, q, err := readU32(b, p+1)
		if err != nil {
			return nil, fmt.Errorf("section at %d: %w", start, err)
		}
		if uint64(size) > uint64(len(b)-q) {
			return nil, fmt.Errorf("section %d at %d: %w", id, start, ErrUnexpectedEOF)
		}
		end := q + int(size)
		payload := b[q:end]
		sec := Section{ID: id, Raw: b[start:end:end]}
		if id != SecCustom {
			if int(id) >= len(sectionRank) {
				return nil, fmt.Errorf("%w: %d at %d", ErrUnknownSection, id, start)
			}
			r := sectionRank[id]
			if r <= lastRank {
				return nil, fmt.Errorf("%w: %d at %d", ErrSectionOrder, id, start)
			}
			lastRank = r
		}
		d := decoder{b: payload}
		switch id {
		case SecCustom:
			sec.Name = d.name()
		case SecType:
			d.types(m)
		case SecImport:
			d.imports(m)
		case SecFunction:
			n := d.count(1)
			m.Funcs = make([]uint32, 0, n)
			for i := 0; i < n && d.err == nil; i++ {
				m.Funcs = append(m.Funcs, d.u32())
			}
		case SecTable:
			n := d.count(3)
			for i := 0; i < n && d.err == nil; i++ {
				m.Tables = append(m.Tables, d.table())
			}
		case SecMemory:
			n := d.count(2)
			for i := 0; i < n && d.err == nil; i++ {
				m.Memories = append(m.Memories, d.limits())
			}
		case SecGlobal:
			n := d.count(3)
			for i := 0; i < n && d.err == nil; i++ {
				g := Global{Type: d.globalType()}
				g.Init = d.constExpr()
				m.Globals = append(m.Globals, g)
			}
		case SecExport:
			d.exports(m)
		case SecStart:
			m.Start, m.HasStart = d.u32(), true
		case SecElement:
			d.elements(m)
		case SecDataCount:
			m.DataCount, m.HasCount = d.u32(), true
		case SecCode:
			d.code(m)
		case SecData:
			d.data(m)
		}
		if id != SecCustom && d.err == nil && d.p != len(payload) {
			d.err = ErrSectionSize
		}
		if d.err != nil {
			return nil, fmt.Errorf("section %d at %d, offset %d: %w", id, start, q+d.p, d.err)
		}
		m.Sections = append(m.Sections, sec)
		p = end
	}
	if len(m.Funcs) != len(m.Code) {
		return nil, fmt.Errorf("%w: %d functions, %d bodies", ErrFuncCodeCount, len(m.Funcs), len(m.Code))
	}
	if m.HasCount && int(m.DataCount) != len(m.Data) {
		return nil, fmt.Errorf("%w: count %d, %d segments", ErrDataCount, m.DataCount, len(m.Data))
	}
	return m, nil
}

// decoder reads one section payload. The first error sticks; later reads
// return zero values, so callers check d.err once per item loop.
type decoder struct {
	b   []byte
	p   int
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.p = len(d.b)
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.p >= len(d.b) {
		d.fail(ErrUnexpectedEOF)
		return 0
	}
	c := d.b[d.p]
	d.p++
	return c
}

func (d *decoder) u32() uint32 {
	if d.err != nil {
		return 0
	}
	v, p, err := readU32(d.b, d.p)
	if err != nil {
		d.fail(err)
		return 0
	}
	d.p = p
	return v
}

// count reads a vector length and checks that the remaining payload can
// hold that many items of at least minSize bytes, so a hostile count never
// drives a large allocation.
func (d *decoder) count(minSize int) int {
	n := d.u32()
	if d.err == nil && uint64(n)*uint64(minSize) > uint64(len(d.b)-d.p) {
		d.fail(fmt.Errorf("%w: vector of %d items", ErrUnexpectedEOF, n))
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(d.b)-d.p) {
		d.fail(ErrUnexpectedEOF)
		return nil
	}
	s := d.b[d.p : d.p+int(n) : d.p+int(n)]
	d.p += int(n)
	return s
}

func (d *decoder) name() string {
	s := d.bytes()
	if d.err == nil && !utf8.Valid(s) {
		d.fail(fmt.Errorf("%w: name is not UTF-8", ErrMalformed))
	}
	return string(s)
}

func (d *decoder) valType() byte {
	c := d.byte()
	if d.err == nil && !isValType(c) {
		d.fail(fmt.Errorf("%w: value type 0x%02x", ErrMalformed, c))
	}
	return c
}

func (d *decoder) refType() byte {
	c := d.byte()
	if d.err == nil && c != FuncRef && c != ExternRef {
		d.fail(fmt.Errorf("%w: reference type 0x%02x", ErrMalformed, c))
	}
	return c
}

func (d *decoder) valTypes() []byte {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	s := d.b[d.p : d.p+n : d.p+n]
	for i := 0; i < n; i++ {
		d.valType()
	}
	return s
}

func (d *decoder) limits() Limits {
	l := Limits{Flags: d.byte()}
	if d.err == nil && l.Flags > 3 {
		d.fail(fmt.Errorf("%w: limits flag 0x%02x", ErrMalformed, l.Flags))
	}
	l.Min = d.u32()
	if l.Flags&1 != 0 {
		l.Max = d.u32()
	}
	return l
}

func (d *decoder) table() Table {
	return Table{RefType: d.refType(), Limits: d.limits()}
}

func (d *decoder) globalType() GlobalType {
	g := GlobalType{Type: d.valType()}
	switch m := d.byte(); m {
	case 0:
	case 1:
		g.Mutable = true
	default:
		d.fail(fmt.Errorf("%w: mutability 0x%02x", ErrMalformed, m))
	}
	return g
}

// constExpr reads a constant expression up to and including its end.
func (d *decoder) constExpr() []byte {
	if d.err != nil {
		return nil
	}
	start := d.p
	for {
		in, err := ReadInstr(d.b, d.p)
		if err != nil {
			d.fail(err)
			return nil
		}
		d.p = in.End
		switch in.Op {
		case OpEnd:
			return d.b[start:d.p:d.p]
		case OpBlock, OpLoop, OpIf, OpElse:
			d.fail(fmt.Errorf("%w: control instruction in constant expression", ErrMalformed))
			return nil
		}
	}
}

func (d *decoder) types(m *Module) {
	n := d.count(3)
	m.Types = make([]FuncType, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		if f := d.byte(); d.err == nil && f != 0x60 {
			d.fail(fmt.Errorf("%w: function type form 0x%02x", ErrMalformed, f))
		}
		t := FuncType{Params: d.valTypes()}
		t.Results = d.valTypes()
		m.Types = append(m.Types, t)
	}
}

func (d *decoder) imports(m *Module) {
	n := d.count(4)
	m.Imports = make([]Import, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		im := Import{Module: d.name()}
		im.Name = d.name()
		im.Kind = d.byte()
		switch im.Kind {
		case KindFunc:
			im.TypeIndex = d.u32()
		case KindTable:
			im.Table = d.table()
		case KindMemory:
			im.Memory = d.limits()
		case KindGlobal:
			im.Global = d.globalType()
		default:
			d.fail(fmt.Errorf("%w: import kind 0x%02x", ErrMalformed, im.Kind))
		}
		m.Imports = append(m.Imports, im)
	}
}

func (d *decoder) exports(m *Module) {
	n := d.count(3)
	m.Exports = make([]Export, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		e := Export{Name: d.name()}
		e.Kind = d.byte()
		if d.err == nil && e.Kind > KindGlobal {
			d.fail(fmt.Errorf("%w: export kind 0x%02x", ErrMalformed, e.Kind))
		}
		e.Index = d.u32()
		m.Exports = append(m.Exports, e)
	}
}

func (d *decoder) elements(m *Module) {
	n := d.count(2)
	m.Elements = make([]Element, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		e := Element{Flags: d.u32(), Kind: FuncRef}
		if d.err != nil {
			break
		}
		if e.Flags > 7 {
			d.fail(fmt.Errorf("%w: element segment flags %d", ErrMalformed, e.Flags))
			break
		}
		if e.Flags&1 == 0 { // active
			if e.Flags&2 != 0 {
				e.Table = d.u32()
			}
			e.Offset = d.constExpr()
		}
		// Flags 0 and 4 have no kind byte; the others do.
		if e.Flags&3 != 0 {
			if e.Flags&4 == 0 {
				if e.Kind = d.byte(); d.err == nil && e.Kind != 0 {
					d.fail(fmt.Errorf("%w: element kind 0x%02x", ErrMalformed, e.Kind))
				}
			} else {
				e.Kind = d.refType()
			}
		}
		k := d.count(1)
		if e.Flags&4 == 0 {
			e.Funcs = make([]uint32, 0, k)
			for j := 0; j < k && d.err == nil; j++ {
				e.Funcs = append(e.Funcs, d.u32())
			}
		} else {
			e.Exprs = make([][]byte, 0, k)
			for j := 0; j < k && d.err == nil; j++ {
				e.Exprs = append(e.Exprs, d.constExpr())
			}
		}
		m.Elements = append(m.Elements, e)
	}
}

func (d *decoder) code(m *Module) {
	n := d.count(2)
	m.Code = make([]Code, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		body := d.bytes()
		if d.err != nil {
			break
		}
		f := decoder{b: body}
		nd := f.count(2)
		var c Code
		if nd > 0 {
			c.Locals = make([]LocalDecl, 0, nd)
		}
		var total uint64
		for j := 0; j < nd && f.err == nil; j++ {
			l := LocalDecl{Count: f.u32(), Type: f.valType()}
			total += uint64(l.Count)
			if total > maxLocals {
				f.fail(fmt.Errorf("%w: %d", ErrTooManyLocals, total))
			}
			c.Locals = append(c.Locals, l)
		}
		if f.err == nil {
			c.Body = body[f.p:len(body):len(body)]
			if err := WalkCode(c.Body, nil); err != nil {
				f.fail(err)
			}
		}
		if f.err != nil {
			d.fail(fmt.Errorf("function body %d: %w", i, f.err))
			break
		}
		m.Code = append(m.Code, c)
	}
}

func (d *decoder) data(m *Module) {
	n := d.count(2)
	m.Data = make([]Data, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		s := Data{Flags: d.u32()}
		switch s.Flags {
		case 0:
			s.Offset = d.constExpr()
		case 1:
		case 2:
			s.Memory = d.u32()
			s.Offset = d.constExpr()
		default:
			d.fail(fmt.Errorf("%w: data segment flags %d", ErrMalformed, s.Flags))
		}
		s.Init = d.bytes()
		m.Data = append(m.Data, s)
	}
}
