package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"unicode/utf8"

	"github.com/switchyard-dev/switchyard/router/openai"
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
// in steady state. It reads bodies with router/openai's Lexer, the same
// tokenizer the request scanner uses, so the key and the scanner cannot read
// one body two ways.
//
// A Keyer is not safe for concurrent use: keep one per worker goroutine or pool
// it (sync.Pool of *Keyer is fine). The zero value is ready to use.
type Keyer struct {
	lex   openai.Lexer
	buf   []byte // canonical encoding being built
	tmp   []byte // scratch for reordering one object's members
	spans []span // members of the objects currently open, innermost last
	deep  bool   // the body nests deeper than maxDepth
}

type span struct{ start, keyEnd, end int }

// Key returns the key of a request for tenant on endpoint (e.g.
// "/v1/chat/completions") asking model, with body the (redacted) JSON request
// body. The body is read, never kept or modified.
//
// The canonical form ignores object member order and whitespace at every depth,
// decodes string escapes (\u0041 == A), normalizes numbers exactly (1 == 1.0 ==
// 1e0 == 0.1e1, with no float rounding), keeps array order, and drops the
// top-level fields that do not change the answer: model, stream,
// stream_options, user, safety_identifier, metadata, prompt_cache_key, store.
//
// It returns ErrInvalidJSON when body is not one JSON object the Lexer accepts
// (invalid UTF-8, a lone surrogate escape and a repeated member name included:
// no two different bodies may share a key), and ErrTooDeep beyond 128 levels
// of nesting; the router then treats the request as uncacheable. Zero
// allocations in steady state.
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
	k.deep = false
	l := &k.lex
	l.Reset(body)

	i := l.WS(0)
	if i >= len(body) || body[i] != '{' {
		return Key{}, ErrInvalidJSON
	}
	i = k.object(i, 1, true)
	switch {
	case k.deep:
		return Key{}, ErrTooDeep
	case i < 0:
		return Key{}, ErrInvalidJSON
	case l.WS(i) != len(body):
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

// value appends the canonical form of the JSON value at in[i] and returns the
// index after it, or -1.
func (k *Keyer) value(i, depth int) int {
	l := &k.lex
	in := l.B
	i = l.WS(i)
	if i >= len(in) {
		return l.EOF()
	}
	switch c := in[i]; {
	case c == '{':
		return k.object(i, depth+1, false)
	case c == '[':
		return k.array(i, depth+1)
	case c == '"':
		return k.string(i)
	case c == '-' || ('0' <= c && c <= '9'):
		end, _ := l.Number(i)
		if end < 0 {
			return -1
		}
		k.number(in[i:end], 0) // already lexed: cannot fail
		return end
	case c == 't':
		return k.literal(i, "true")
	case c == 'f':
		return k.literal(i, "false")
	case c == 'n':
		return k.literal(i, "null")
	}
	return l.Fail(i, "invalid character looking for a value")
}

func (k *Keyer) literal(i int, lit string) int {
	end := k.lex.Literal(i, lit)
	if end >= 0 {
		k.buf = append(k.buf, lit...)
	}
	return end
}

func (k *Keyer) tooDeep() int {
	k.deep = true
	return -1
}

func (k *Keyer) array(i, depth int) int {
	if depth > maxDepth {
		return k.tooDeep()
	}
	l := &k.lex
	in := l.B
	k.buf = append(k.buf, '[')
	i = l.WS(i + 1)
	if i < len(in) && in[i] == ']' {
		k.buf = append(k.buf, ']')
		return i + 1
	}
	for {
		if i = k.value(i, depth); i < 0 {
			return -1
		}
		i = l.WS(i)
		if i >= len(in) {
			return l.EOF()
		}
		switch in[i] {
		case ',':
			k.buf = append(k.buf, ',')
			i++
		case ']':
			k.buf = append(k.buf, ']')
			return i + 1
		default:
			return l.Fail(i, "expected ',' or ']'")
		}
	}
}

// object canonicalizes an object: members are written as they come, separated
// by commas, and recorded as spans; if they are not already in strictly
// ascending key order they are sorted through tmp. Two members with the same
// name make the body invalid (the scanner refuses such bodies too). top drops
// the excluded fields.
func (k *Keyer) object(i, depth int, top bool) int {
	if depth > maxDepth {
		return k.tooDeep()
	}
	l := &k.lex
	in := l.B
	k.buf = append(k.buf, '{')
	start := len(k.buf)
	base := len(k.spans)
	i = l.WS(i + 1)
	if i < len(in) && in[i] == '}' {
		k.buf = append(k.buf, '}')
		return i + 1
	}
	written := 0 // members written to buf, excluded ones not counted
	for {
		i = l.WS(i)
		if i >= len(in) || in[i] != '"' {
			return l.Fail(i, "expected a string key")
		}
		if written > 0 {
			k.buf = append(k.buf, ',')
		}
		ms := len(k.buf)
		if i = k.string(i); i < 0 {
			return -1
		}
		ke := len(k.buf)
		i = l.WS(i)
		if i >= len(in) || in[i] != ':' {
			return l.Fail(i, "expected ':'")
		}
		k.buf = append(k.buf, ':')
		if i = k.value(i+1, depth); i < 0 {
			return -1
		}
		if top && isExcluded(k.buf[ms+1:ke-1]) {
			k.buf = k.buf[:ms]
			if written > 0 {
				k.buf = k.buf[:ms-1] // the comma written before this member
			}
		} else {
			k.spans = append(k.spans, span{ms, ke, len(k.buf)})
			written++
		}
		i = l.WS(i)
		if i >= len(in) {
			return l.EOF()
		}
		if in[i] == ',' {
			i++
			continue
		}
		if in[i] != '}' {
			return l.Fail(i, "expected ',' or '}'")
		}
		i++
		break
	}
	if !k.reorder(start, base) {
		return l.Fail(i-1, "duplicate member name")
	}
	k.spans = k.spans[:base]
	k.buf = append(k.buf, '}')
	return i
}

func isExcluded(name []byte) bool {
	for _, e := range excluded {
		if string(name) == e {
			return true
		}
	}
	return false
}

// reorder sorts the members recorded in spans[base:] by key and rewrites
// buf[start:] with them comma-separated. It returns false when two members
// have the same (canonical, so unescaped) name.
func (k *Keyer) reorder(start, base int) bool {
	ms := k.spans[base:]
	sorted := true
	for j := 1; j < len(ms); j++ {
		if bytes.Compare(k.key(ms[j-1]), k.key(ms[j])) >= 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return true
	}
	buf := k.buf
	slices.SortFunc(ms, func(a, b span) int {
		return bytes.Compare(buf[a.start:a.keyEnd], buf[b.start:b.keyEnd])
	})
	t := k.tmp[:0]
	for j, m := range ms {
		if j+1 < len(ms) && bytes.Equal(k.key(m), k.key(ms[j+1])) {
			return false
		}
		if len(t) > 0 {
			t = append(t, ',')
		}
		t = append(t, buf[m.start:m.end]...)
	}
	k.buf = append(buf[:start], t...)
	k.tmp = t
	return true
}

func (k *Keyer) key(s span) []byte { return k.buf[s.start:s.keyEnd] }

// string appends the canonical form of the string at in[i] (which is '"'):
// escapes decoded, then re-encoded with the minimal escapes (\" \\ and \u00XX
// for control characters). The lexer has already refused invalid UTF-8 and
// lone surrogates, so every decoded string is distinct text.
func (k *Keyer) string(i int) int {
	l := &k.lex
	end, esc := l.String(i)
	if end < 0 {
		return -1
	}
	raw := l.B[i+1 : end-1]
	b := append(k.buf, '"')
	for esc && len(raw) > 0 {
		j := bytes.IndexByte(raw, '\\')
		if j < 0 {
			break
		}
		b = append(b, raw[:j]...)
		r, n := openai.DecodeEscape(raw[j:])
		raw = raw[j+n:]
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	b = append(b, raw...) // the rest has no escapes: raw text is already canonical
	k.buf = append(b, '"')
	return end
}

// number appends an exact canonical form of the number in (already lexed): sign,
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
