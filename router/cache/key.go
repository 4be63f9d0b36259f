package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// Key identifies one cache entry: a 128-bit hash of tenant, endpoint, model and
// the canonical request body. It is comparable and fits a map key.
type Key [16]byte

// maxDepth bounds JSON nesting during key derivation. A deeper body is not an
// error for the router, only uncacheable: it is forwarded as usual. The bound
// also caps the canonicalizer's copying at maxDepth × len(body).
const maxDepth = 128

// excluded lists the top-level request fields that do not change the answer and
// are therefore left out of the key. "model" is keyed separately (the router
// passes the resolved public model name). See docs/caching.md "The key".
var excluded = [...]string{
	"model", "stream", "stream_options", "user", "safety_identifier",
	"metadata", "prompt_cache_key", "store",
}

// Keyer derives cache keys from request bodies. It owns scratch buffers that
// grow to the largest body seen and are then reused, so Key allocates nothing
// in steady state.
//
// A Keyer is not safe for concurrent use: keep one per worker goroutine or pool
// it (sync.Pool of *Keyer is fine). The zero value is ready to use.
type Keyer struct {
	buf   []byte // canonical encoding being built
	tmp   []byte // scratch for reordering one object's members
	spans []span // members of the objects currently open, innermost last
}

type span struct{ start, keyEnd, end int }

// Key returns the key of a request for tenant on endpoint (e.g.
// "/v1/chat/completions") asking model, with body the (redacted) JSON request
// body. The body is read, never kept or modified.
//
// The canonical form ignores object member order and whitespace at every depth,
// decodes string escapes (\u0041 == A; invalid UTF-8 and lone surrogates become
// U+FFFD, as encoding/json does), normalizes numbers exactly (1 == 1.0 == 1e0 ==
// 0.1e1, with no float rounding), keeps array order, keeps the last of duplicate
// members (as encoding/json does), and drops the top-level fields that do not
// change the answer: model, stream, stream_options, user, safety_identifier,
// metadata, prompt_cache_key, store.
//
// It returns ErrInvalidJSON when body is not one JSON object, and ErrTooDeep
// beyond 128 levels of nesting; the router then treats the request as
// uncacheable. Zero allocations in steady state.
func (k *Keyer) Key(tenant, endpoint string, model, body []byte) (Key, error) {
	b := k.buf[:0]
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	b = binary.AppendUvarint(b, uint64(len(endpoint)))
	b = append(b, endpoint...)
	b = binary.AppendUvarint(b, uint64(len(model)))
	b = append(b, model...)
	k.buf = b
	k.spans = k.spans[:0]

	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return Key{}, ErrInvalidJSON
	}
	i, err := k.object(body, i, 1, true)
	if err != nil {
		return Key{}, err
	}
	if skipWS(body, i) != len(body) {
		return Key{}, ErrInvalidJSON
	}
	return hashKey(k.buf), nil
}

// hashKey is truncated SHA-256. Why not two hash/maphash seeds? On a 2 KB body
// they take about 0.6 µs against 1.3 µs (BenchmarkHash2KB, SHA-NI), but the
// canonical encoding costs more than either, and SHA-256 keeps keys
// collision-resistant even against a client crafting inputs, and stable across
// processes (tests, and a store that may one day be shared).
// See docs/caching.md "The key".
func hashKey(b []byte) Key {
	sum := sha256.Sum256(b)
	return Key(sum[:16])
}

// canonical exposes the canonical bytes for tests.
func (k *Keyer) canonical() []byte { return k.buf }

func skipWS(in []byte, i int) int {
	for i < len(in) {
		switch in[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value appends the canonical form of the JSON value at in[i] and returns the
// index after it.
func (k *Keyer) value(in []byte, i, depth int) (int, error) {
	i = skipWS(in, i)
	if i >= len(in) {
		return 0, ErrInvalidJSON
	}
	switch c := in[i]; {
	case c == '{':
		return k.object(in, i, depth+1, false)
	case c == '[':
		return k.array(in, i, depth+1)
	case c == '"':
		return k.str(in, i)
	case c == '-' || ('0' <= c && c <= '9'):
		return k.number(in, i)
	case c == 't':
		return k.literal(in, i, "true")
	case c == 'f':
		return k.literal(in, i, "false")
	case c == 'n':
		return k.literal(in, i, "null")
	}
	return 0, ErrInvalidJSON
}

func (k *Keyer) literal(in []byte, i int, lit string) (int, error) {
	if len(in)-i < len(lit) || string(in[i:i+len(lit)]) != lit {
		return 0, ErrInvalidJSON
	}
	k.buf = append(k.buf, lit...)
	return i + len(lit), nil
}

func (k *Keyer) array(in []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, ErrTooDeep
	}
	k.buf = append(k.buf, '[')
	i = skipWS(in, i+1)
	if i < len(in) && in[i] == ']' {
		k.buf = append(k.buf, ']')
		return i + 1, nil
	}
	for {
		var err error
		if i, err = k.value(in, i, depth); err != nil {
			return 0, err
		}
		i = skipWS(in, i)
		if i >= len(in) {
			return 0, ErrInvalidJSON
		}
		switch in[i] {
		case ',':
			k.buf = append(k.buf, ',')
			i++
		case ']':
			k.buf = append(k.buf, ']')
			return i + 1, nil
		default:
			return 0, ErrInvalidJSON
		}
	}
}

// object canonicalizes an object: members are written as they come, separated
// by commas, and recorded as spans; if they are not already in strictly
// ascending key order they are sorted (stable, last duplicate kept) through tmp.
// top drops the excluded fields.
func (k *Keyer) object(in []byte, i, depth int, top bool) (int, error) {
	if depth > maxDepth {
		return 0, ErrTooDeep
	}
	k.buf = append(k.buf, '{')
	start := len(k.buf)
	base := len(k.spans)
	i = skipWS(in, i+1)
	if i < len(in) && in[i] == '}' {
		k.buf = append(k.buf, '}')
		return i + 1, nil
	}
	for {
		i = skipWS(in, i)
		if i >= len(in) || in[i] != '"' {
			return 0, ErrInvalidJSON
		}
		if len(k.spans) > base {
			k.buf = append(k.buf, ',')
		}
		ms := len(k.buf)
		var err error
		if i, err = k.str(in, i); err != nil {
			return 0, err
		}
		ke := len(k.buf)
		i = skipWS(in, i)
		if i >= len(in) || in[i] != ':' {
			return 0, ErrInvalidJSON
		}
		k.buf = append(k.buf, ':')
		if i, err = k.value(in, i+1, depth); err != nil {
			return 0, err
		}
		if top && isExcluded(k.buf[ms+1:ke-1]) {
			k.buf = k.buf[:ms]
			if len(k.spans) > base {
				k.buf = k.buf[:ms-1] // the comma written before this member
			}
		} else {
			k.spans = append(k.spans, span{ms, ke, len(k.buf)})
		}
		i = skipWS(in, i)
		if i >= len(in) {
			return 0, ErrInvalidJSON
		}
		if in[i] == ',' {
			i++
			continue
		}
		if in[i] != '}' {
			return 0, ErrInvalidJSON
		}
		i++
		break
	}
	k.reorder(start, base)
	k.spans = k.spans[:base]
	k.buf = append(k.buf, '}')
	return i, nil
}

func isExcluded(name []byte) bool {
	for _, e := range excluded {
		if string(name) == e {
			return true
		}
	}
	return false
}

// reorder sorts the members recorded in spans[base:] by key, drops all but the
// last of equal keys, and rewrites buf[start:] with them comma-separated.
func (k *Keyer) reorder(start, base int) {
	ms := k.spans[base:]
	sorted := true
	for j := 1; j < len(ms); j++ {
		if bytes.Compare(k.key(ms[j-1]), k.key(ms[j])) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	buf := k.buf
	slices.SortStableFunc(ms, func(a, b span) int {
		return bytes.Compare(buf[a.start:a.keyEnd], buf[b.start:b.keyEnd])
	})
	t := k.tmp[:0]
	for j, m := range ms {
		if j+1 < len(ms) && bytes.Equal(k.key(m), k.key(ms[j+1])) {
			continue // a later duplicate wins
		}
		if len(t) > 0 {
			t = append(t, ',')
		}
		t = append(t, buf[m.start:m.end]...)
	}
	k.buf = append(buf[:start], t...)
	k.tmp = t
}

func (k *Keyer) key(s span) []byte { return k.buf[s.start:s.keyEnd] }

// str appends the canonical form of the string at in[i] (which is '"'):
// escapes decoded, then re-encoded with the minimal escapes (\" \\ and \u00XX
// for control characters); invalid UTF-8 bytes and lone surrogates become U+FFFD.
func (k *Keyer) str(in []byte, i int) (int, error) {
	b := append(k.buf, '"')
	i++
	for {
		// Copy the run of plain bytes, eight at a time while none is special.
		j := i
		for j+8 <= len(in) && !special8(binary.LittleEndian.Uint64(in[j:])) {
			j += 8
		}
		for j < len(in) {
			c := in[j]
			if c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
			j++
		}
		b = append(b, in[i:j]...)
		i = j
		if i >= len(in) {
			return 0, ErrInvalidJSON
		}
		c := in[i]
		switch {
		case c == '"':
			k.buf = append(b, '"')
			return i + 1, nil
		case c < 0x20:
			return 0, ErrInvalidJSON
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, in[i:i+size]...)
			}
			i += size
		default: // backslash
			if i+1 >= len(in) {
				return 0, ErrInvalidJSON
			}
			e := in[i+1]
			i += 2
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				b = appendRune(b, unescape(e))
			case 'u':
				r, ok := hex4(in, i)
				if !ok {
					return 0, ErrInvalidJSON
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+6 <= len(in) && in[i] == '\\' && in[i+1] == 'u' {
						r2, ok2 = hex4(in, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = appendRune(b, r)
			default:
				return 0, ErrInvalidJSON
			}
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special8 reports whether any of the 8 bytes in x is '"', '\\', a control
// character or non-ASCII: the bytes str must look at one by one.
func special8(x uint64) bool {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return ((q-lsb)&^q|(b-lsb)&^b|(x-lsb*0x20)&^x|x)&msb != 0
}

func unescape(e byte) rune {
	switch e {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return rune(e)
}

// appendRune appends r in canonical string form.
func appendRune(b []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(b, '\\', byte(r))
	case r < 0x20:
		const hex = "0123456789abcdef"
		return append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
	}
	return utf8.AppendRune(b, r)
}

func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	var r rune
	for _, c := range in[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number appends an exact canonical form of the number at in[i]: sign,
// significant digits without leading or trailing zeros, and a decimal exponent
// ("e-2") when it is not zero; every zero becomes "0". No float conversion, so
// seeds and token counts beyond 2^53 stay distinct.
func (k *Keyer) number(in []byte, i int) (int, error) {
	neg := false
	if in[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	if i < len(in) && in[i] == '0' {
		i++
	} else {
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
	}
	if i == intStart {
		return 0, ErrInvalidJSON
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(in) && in[i] == '.' {
		i++
		fracStart = i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		if i == fracStart {
			return 0, ErrInvalidJSON
		}
		fracEnd = i
	}
	var exp int64
	expOverflow := false
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		eneg := false
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			eneg = in[i] == '-'
			i++
		}
		es := i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			if exp < 1<<40 {
				exp = exp*10 + int64(in[i]-'0')
			} else {
				expOverflow = true
			}
			i++
		}
		if i == es {
			return 0, ErrInvalidJSON
		}
		if eneg {
			exp = -exp
		}
	}
	if expOverflow {
		// Astronomically large exponents: keep the literal, marked so it can
		// never equal a normalized number. Equal values written differently
		// then get different keys, which only costs a cache miss.
		k.buf = append(append(k.buf, '#'), in[intStart-btoi(neg):i]...)
		return i, nil
	}
	b := k.buf
	if neg {
		b = append(b, '-')
	}
	ds := len(b)
	lead := true
	for _, part := range [2][]byte{in[intStart:intEnd], in[fracStart:fracEnd]} {
		for _, c := range part {
			if lead && c == '0' {
				continue
			}
			lead = false
			b = append(b, c)
		}
	}
	exp -= int64(fracEnd - fracStart)
	if len(b) == ds { // zero, whatever its sign or exponent
		k.buf = append(b[:ds-btoi(neg)], '0')
		return i, nil
	}
	for b[len(b)-1] == '0' {
		b = b[:len(b)-1]
		exp++
	}
	if exp != 0 {
		b = append(b, 'e')
		b = appendInt(b, exp)
	}
	k.buf = b
	return i, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var tmp [20]byte
	n := len(tmp)
	for {
		n--
		tmp[n] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[n:]...)
}
