package openai

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Lexer is Switchyard's one JSON tokenizer: the request scanner (Scan) and the cache key
// (router/cache) both read request bodies through it, so they cannot disagree on what a body says.
// Its rules are strict where a lenient reader would let two readers see different documents:
// strings must be valid UTF-8, a \u escape may not name a lone surrogate, and (checked by
// Members) an object may not repeat a member name. See docs/RATIONALE.md "Why reject duplicate
// member names?".
//
// Each method takes the offset of the first byte of a token and returns the offset just past it,
// or -1 after recording the first error (Err). A Lexer is not safe for concurrent use; the zero
// value with B set is ready.
type Lexer struct {
	B []byte // the document

	errOff int
	errMsg string
	dup    []byte // the duplicated member name (unescaped), when that is the error
	dupOK  bool
}

// Reset points the lexer at b and forgets any error.
func (l *Lexer) Reset(b []byte) {
	l.B, l.errOff, l.errMsg, l.dupOK = b, 0, "", false
	l.dup = l.dup[:0]
}

// Fail records an error at offset i (the first one wins) and returns -1.
func (l *Lexer) Fail(i int, msg string) int {
	if l.errMsg == "" {
		l.errOff, l.errMsg = i, msg
	}
	return -1
}

// EOF records an unexpected end of input; truncated bodies are the common malformed case.
func (l *Lexer) EOF() int { return l.Fail(len(l.B), "unexpected end of input") }

// Err returns the recorded error: a *DuplicateError for a repeated member name, else a
// *SyntaxError; nil when none was recorded.
func (l *Lexer) Err() error {
	if l.errMsg == "" {
		return nil
	}
	if l.dupOK {
		return &DuplicateError{Name: string(l.dup), Offset: l.errOff}
	}
	return &SyntaxError{Offset: l.errOff, Msg: l.errMsg}
}

// WS skips whitespace.
func (l *Lexer) WS(i int) int {
	b := l.B
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Literal scans the literal word (true, false or null) at i.
func (l *Lexer) Literal(i int, word string) int {
	b := l.B
	for k := 0; k < len(word); k++ {
		if i+k >= len(b) {
			return l.EOF()
		}
		if b[i+k] != word[k] {
			return l.Fail(i+k, "invalid character in literal")
		}
	}
	return i + len(word)
}

// Number scans a number per RFC 8259 and reports whether it is an integer (no fraction, no
// exponent).
func (l *Lexer) Number(i int) (int, bool) {
	b := l.B
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return l.EOF(), false
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return l.Fail(i, "invalid character in number"), false
	}
	isInt := true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) {
			return l.EOF(), false
		}
		if !isDigit(b[i]) {
			return l.Fail(i, "invalid character after decimal point"), false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return l.EOF(), false
		}
		if !isDigit(b[i]) {
			return l.Fail(i, "invalid character in exponent"), false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, isInt
}

// String scans the string whose opening quote is at i and reports whether it contains escapes.
// Raw bytes must be valid UTF-8 and a \u escape of a surrogate must be a high surrogate followed
// by an escaped low one: anything else is an error, so that no two different strings decode to
// the same text (encoding/json would turn both into U+FFFD).
func (l *Lexer) String(i int) (int, bool) {
	b := l.B
	i++
	esc := false
	for {
		// Fast path: plain ASCII string bytes, eight at a time while there are eight left.
		for i+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			return l.EOF(), false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return l.EOF(), false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, end := l.hexEscape(i)
				if end < 0 {
					return -1, false
				}
				i = end
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
						return l.Fail(end-6, "invalid \\u escape: lone surrogate"), false
					}
					r2, end2 := l.hexEscape(i)
					if end2 < 0 {
						return -1, false
					}
					if r2 < 0xdc00 || r2 > 0xdfff {
						return l.Fail(end-6, "invalid \\u escape: lone surrogate"), false
					}
					i = end2
				}
			default:
				return l.Fail(i+1, "invalid escape character"), false
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return l.Fail(i, "invalid UTF-8 in string"), false
			}
			i += size
		default:
			return l.Fail(i, "control character in string"), false
		}
	}
}

// hexEscape reads the \uXXXX escape at i (b[i] is the backslash) and returns its value and the
// offset after it.
func (l *Lexer) hexEscape(i int) (rune, int) {
	b := l.B
	var r rune
	for k := i + 2; k < i+6; k++ {
		if k >= len(b) {
			return 0, l.EOF()
		}
		c := b[k]
		if !isHex(c) {
			return 0, l.Fail(k, "invalid \\u escape")
		}
		r = r<<4 | rune(hexVal(c))
	}
	return r, i + 6
}

// Members checks the member names of one object for duplicates. The caller adds each name with
// Add as it scans the object (Begin first, End after the closing brace); nested objects may Begin
// and End between two Adds of their parent. Names are compared after unescaping ("a" and "\u0061"
// are the same member). Zero allocations once its scratch has grown.
type Members struct {
	names []member
	tmp   []byte
}

type member struct {
	h          uint64
	start, end int32 // raw name, quotes excluded
	esc        bool
}

var memberSeed = maphash.MakeSeed()

// Begin starts an object and returns the mark to pass to End.
func (m *Members) Begin() int { return len(m.names) }

// Add records the member name whose raw bytes are l.B[start:end] (quotes excluded).
func (m *Members) Add(l *Lexer, start, end int, esc bool) {
	raw := l.B[start:end]
	var h uint64
	if esc {
		m.tmp = AppendUnescaped(m.tmp[:0], raw)
		h = maphash.Bytes(memberSeed, m.tmp)
	} else {
		h = maphash.Bytes(memberSeed, raw)
	}
	m.names = append(m.names, member{h: h, start: int32(start), end: int32(end), esc: esc})
}

// End finishes the object begun at mark: it reports a duplicate through l (returning false) and
// forgets the object's names. Small objects are checked pairwise, large ones by sorting hashes, so
// a hostile object with many members costs O(n log n), not O(n²).
func (m *Members) End(l *Lexer, mark int) bool {
	ns := m.names[mark:]
	defer func() { m.names = m.names[:mark] }()
	if len(ns) < 2 {
		return true
	}
	if len(ns) <= 16 {
		for a := 1; a < len(ns); a++ {
			for b := 0; b < a; b++ {
				if ns[a].h == ns[b].h && m.same(l, ns[a], ns[b]) {
					return m.dup(l, ns[a])
				}
			}
		}
		return true
	}
	sortMembers(ns)
	for a := 1; a < len(ns); a++ {
		for b := a - 1; b >= 0 && ns[b].h == ns[a].h; b-- {
			if m.same(l, ns[a], ns[b]) {
				return m.dup(l, ns[a])
			}
		}
	}
	return true
}

func (m *Members) same(l *Lexer, a, b member) bool {
	ra, rb := l.B[a.start:a.end], l.B[b.start:b.end]
	if !a.esc && !b.esc {
		return string(ra) == string(rb)
	}
	m.tmp = AppendUnescaped(m.tmp[:0], ra)
	n := len(m.tmp)
	m.tmp = AppendUnescaped(m.tmp, rb)
	return string(m.tmp[:n]) == string(m.tmp[n:])
}

func (m *Members) dup(l *Lexer, n member) bool {
	if l.errMsg == "" {
		l.dup = AppendUnescaped(l.dup[:0], l.B[n.start:n.end])
		l.dupOK = true
		l.Fail(int(n.start)-1, "duplicate member name")
	}
	return false
}

// sortMembers sorts by hash (heap sort: no allocation, O(n log n) on any input).
func sortMembers(ns []member) {
	n := len(ns)
	down := func(i, n int) {
		for {
			c := 2*i + 1
			if c >= n {
				return
			}
			if c+1 < n && ns[c+1].h > ns[c].h {
				c++
			}
			if ns[i].h >= ns[c].h {
				return
			}
			ns[i], ns[c] = ns[c], ns[i]
			i = c
		}
	}
	for i := n/2 - 1; i >= 0; i-- {
		down(i, n)
	}
	for end := n - 1; end > 0; end-- {
		ns[0], ns[end] = ns[end], ns[0]
		down(0, end)
	}
}

// DuplicateError reports an object that repeats a member name. Readers disagree on which
// duplicate wins (encoding/json takes the last, fastjson and many clouds the first), so a body
// with one could be keyed, routed and answered as three different requests; it is refused.
type DuplicateError struct {
	Name   string // the member name, unescaped
	Offset int
}

func (e *DuplicateError) Error() string {
	return "openai: duplicate member " + strconv.Quote(e.Name) + " at byte " + strconv.Itoa(e.Offset)
}

// Unwrap makes a DuplicateError an ErrSyntax: the body is not a JSON document Switchyard accepts.
func (e *DuplicateError) Unwrap() error { return ErrSyntax }

// AppendUnescaped appends the decoded contents of a string already accepted by Lexer.String (raw
// bytes between the quotes) to dst.
func AppendUnescaped(dst, s []byte) []byte {
	for len(s) > 0 {
		j := bytes.IndexByte(s, '\\')
		if j < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:j]...)
		r, n := DecodeEscape(s[j:])
		dst = utf8.AppendRune(dst, r)
		s = s[j+n:]
	}
	return dst
}

// DecodeEscape decodes the escape sequence at the start of s (s[0] is the backslash) of a string
// already accepted by Lexer.String, and returns the character and the sequence's length (a
// surrogate pair, \uD83D\uDE00, is one character of length 12).
func DecodeEscape(s []byte) (rune, int) {
	switch s[1] {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r := hex4(s[2:])
		if utf16.IsSurrogate(r) && len(s) >= 12 {
			return utf16.DecodeRune(r, hex4(s[8:])), 12
		}
		return r, 6
	}
	return rune(s[1]), 2 // '"', '\\', '/'
}

// hex4 decodes four hex digits already validated by the lexer.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r = r<<4 | rune(hexVal(c))
	}
	return r
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isDigit(c byte) bool { return c-'0' <= 9 }

func isHex(c byte) bool { return isDigit(c) || (c|0x20)-'a' <= 5 }

// strSpecial marks the bytes that end the fast path inside a string: the quote, the backslash,
// control characters (which RFC 8259 forbids unescaped) and non-ASCII bytes (validated as UTF-8).
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special8 reports whether any of the 8 bytes in x is '"', '\\', a control character or
// non-ASCII, using the SWAR "has zero byte" trick so that long ASCII strings cost one test per
// eight bytes.
func special8(x uint64) bool {
	q := x ^ (lsb * '"')
	bs := x ^ (lsb * '\\')
	return ((q-lsb)&^q|(bs-lsb)&^bs|(x-lsb*0x20)&^x|x)&msb != 0
}
