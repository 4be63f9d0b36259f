package wasmbin

import "fmt"

// Encode appends the binary encoding of m to dst and returns it. Sections
// with Raw set are copied verbatim; the others are encoded from m's fields
// with minimal LEB128 sizes.
func Encode(dst []byte, m *Module) ([]byte, error) {
	dst = append(dst, header[:]...)
	var payload []byte
	for i := range m.Sections {
		s := &m.Sections[i]
		if s.Raw != nil {
			dst = append(dst, s.Raw...)
			continue
		}
		if s.ID == SecCustom {
			return dst, fmt.Errorf("%w: custom section %q has no bytes", ErrMalformed, s.Name)
		}
		payload = m.appendPayload(payload[:0], s.ID)
		dst = append(dst, s.ID)
		dst = appendU32(dst, uint32(len(payload)))
		dst = append(dst, payload...)
	}
	return dst, nil
}

func appendName(dst []byte, s string) []byte {
	dst = appendU32(dst, uint32(len(s)))
	return append(dst, s...)
}

func appendLimits(dst []byte, l Limits) []byte {
	dst = append(dst, l.Flags)
	dst = appendU32(dst, l.Min)
	if l.Flags&1 != 0 {
		dst = appendU32(dst, l.Max)
	}
	return dst
}

func appendGlobalType(dst []byte, g GlobalType) []byte {
	mut := byte(0)
	if g.Mutable {
		mut = 1
	}
	return append(dst, g.Type, mut)
}

func (m *Module) appendPayload(b []byte, id byte) []byte {
	switch id {
	case SecType:
		b = appendU32(b, uint32(len(m.Types)))
		for _, t := range m.Types {
			b = append(b, 0x60)
			b = appendU32(b, uint32(len(t.Params)))
			b = append(b, t.Params...)
			b = appendU32(b, uint32(len(t.Results)))
			b = append(b, t.Results...)
		}
	case SecImport:
		b = appendU32(b, uint32(len(m.Imports)))
		for _, im := range m.Imports {
			b = appendName(b, im.Module)
			b = appendName(b, im.Name)
			b = append(b, im.Kind)
			switch im.Kind {
			case KindFunc:
				b = appendU32(b, im.TypeIndex)
			case KindTable:
				b = append(b, im.Table.RefType)
				b = appendLimits(b, im.Table.Limits)
			case KindMemory:
				b = appendLimits(b, im.Memory)
			case KindGlobal:
				b = appendGlobalType(b, im.Global)
			}
		}
	case SecFunction:
		b = appendU32(b, uint32(len(m.Funcs)))
		for _, f := range m.Funcs {
			b = appendU32(b, f)
		}
	case SecTable:
		b = appendU32(b, uint32(len(m.Tables)))
		for _, t := range m.Tables {
			b = append(b, t.RefType)
			b = appendLimits(b, t.Limits)
		}
	case SecMemory:
		b = appendU32(b, uint32(len(m.Memories)))
		for _, l := range m.Memories {
			b = appendLimits(b, l)
		}
	case SecGlobal:
		b = appendU32(b, uint32(len(m.Globals)))
		for _, g := range m.Globals {
			b = appendGlobalType(b, g.Type)
			b = append(b, g.Init...)
		}
	case SecExport:
		b = appendU32(b, uint32(len(m.Exports)))
		for _, e := range m.Exports {
			b = appendName(b, e.Name)
			b = append(b, e.Kind)
			b = appendU32(b, e.Index)
		}
	case SecStart:
		b = appendU32(b, m.Start)
	case SecElement:
		b = appendU32(b, uint32(len(m.Elements)))
		for _, e := range m.Elements {
			b = appendU32(b, e.Flags)
			if e.Flags&1 == 0 {
				if e.Flags&2 != 0 {
					b = appendU32(b, e.Table)
				}
				b = append(b, e.Offset...)
			}
			if e.Flags&3 != 0 {
				b = append(b, e.Kind)
			}
			if e.Flags&4 == 0 {
				b = appendU32(b, uint32(len(e.Funcs)))
				for _, f := range e.Funcs {
					b = appendU32(b, f)
				}
			} else {
				b = appendU32(b, uint32(len(e.Exprs)))
				for _, x := range e.Exprs {
					b = append(b, x...)
				}
			}
		}
	case SecDataCount:
		b = appendU32(b, m.DataCount)
	case SecCode:
		b = appendU32(b, uint32(len(m.Code)))
		for i := range m.Code {
			b = AppendCode(b, &m.Code[i])
		}
	case SecData:
		b = appendU32(b, uint32(len(m.Data)))
		for _, s := range m.Data {
			b = appendU32(b, s.Flags)
			if s.Flags == 2 {
				b = appendU32(b, s.Memory)
			}
			if s.Flags != 1 {
				b = append(b, s.Offset...)
			}
			b = appendU32(b, uint32(len(s.Init)))
			b = append(b, s.Init...)
		}
	}
	return b
}

// AppendCode appends one code entry (size, locals, body) to dst.
func AppendCode(dst []byte, c *Code) []byte {
	n := uint32(len(c.Body)) + u32Len(uint32(len(c.Locals)))
	for _, l := range c.Locals {
		n += u32Len(l.Count) + 1
	}
	dst = appendU32(dst, n)
	dst = appendU32(dst, uint32(len(c.Locals)))
	for _, l := range c.Locals {
		dst = appendU32(dst, l.Count)
		dst = append(dst, l.Type)
	}
	return append(dst, c.Body...)
}

func u32Len(v uint32) uint32 {
	n := uint32(1)
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
