package wasmbin

// LEB128 readers follow the core spec exactly: an N-bit integer takes at most
// ceil(N/7) bytes, and the unused bits of the last byte must be zero (unsigned)
// or copies of the sign bit (signed). Padded encodings within that limit are
// valid — wasm-ld and the Go linker emit them — and are accepted.

// readU32 reads an unsigned 32-bit LEB128 at b[pos:] and returns the value
// and the position after it.
func readU32(b []byte, pos int) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if pos >= len(b) {
			return 0, pos, ErrUnexpectedEOF
		}
		c := b[pos]
		pos++
		if i == 4 && c&0xF0 != 0 {
			return 0, pos, ErrIntOverflow
		}
		v |= uint32(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			return v, pos, nil
		}
	}
	return 0, pos, ErrIntTooLong
}

// readS32 reads a signed 32-bit LEB128.
func readS32(b []byte, pos int) (int32, int, error) {
	v, pos, err := readSigned(b, pos, 32)
	return int32(v), pos, err
}

// readS33 reads a signed 33-bit LEB128 (block types).
func readS33(b []byte, pos int) (int64, int, error) {
	return readSigned(b, pos, 33)
}

// readS64 reads a signed 64-bit LEB128.
func readS64(b []byte, pos int) (int64, int, error) {
	return readSigned(b, pos, 64)
}

// readSigned reads a signed LEB128 of at most bits bits.
func readSigned(b []byte, pos int, bits uint) (int64, int, error) {
	maxBytes := int((bits + 6) / 7)
	var v int64
	var shift uint
	for i := 0; i < maxBytes; i++ {
		if pos >= len(b) {
			return 0, pos, ErrUnexpectedEOF
		}
		c := b[pos]
		pos++
		if i == maxBytes-1 {
			// Bits of the last byte beyond the value's width (including
			// the continuation bit) must equal the sign bit.
			used := bits - shift // value bits held by this byte, 1..7
			if c&0x80 != 0 {
				return 0, pos, ErrIntTooLong
			}
			sign := (c >> (used - 1)) & 1
			rest := c >> used // the unused bits
			want := byte(0)
			if sign == 1 {
				want = byte(0x7F >> used)
			}
			if rest != want {
				return 0, pos, ErrIntOverflow
			}
		}
		v |= int64(c&0x7F) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, pos, nil
		}
	}
	return 0, pos, ErrIntTooLong
}

// appendU32 appends the minimal unsigned LEB128 encoding of v.
func appendU32(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendS64 appends the minimal signed LEB128 encoding of v.
func appendS64(dst []byte, v int64) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(dst, c)
		}
		dst = append(dst, c|0x80)
	}
}

// AppendU32 appends the minimal unsigned LEB128 encoding of v; exported for
// rewriters that emit their own instructions.
func AppendU32(dst []byte, v uint32) []byte { return appendU32(dst, v) }

// AppendS64 appends the minimal signed LEB128 encoding of v.
func AppendS64(dst []byte, v int64) []byte { return appendS64(dst, v) }
