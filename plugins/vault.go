package plugins

import (
	"bytes"
	"errors"
	"hash/maphash"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors Vault.Add and Vault.Verify return. A redaction host turns each into
// a plugin failure.
var (
	ErrBadPlaceholder   = errors.New("plugins: placeholder does not have the shape <TYPE_N>")
	ErrPlaceholderTaken = errors.New("plugins: placeholder already stands for another original")
	ErrNotInBody        = errors.New("plugins: redacted body does not restore to the body it was taken from")
)

// MaxPlaceholderLen bounds one placeholder, angle brackets included.
const MaxPlaceholderLen = 64

// ValidPlaceholder reports whether ph has the documented shape (docs/abi.md
// "Placeholders"): '<', an upper-case type [A-Z][A-Z0-9_]*, '_', a number
// without leading zero, '>', at most MaxPlaceholderLen bytes in all.
// <EMAIL_1>, <CREDIT_CARD_12>.
func ValidPlaceholder(ph []byte) bool {
	n := len(ph)
	if n < 5 || n > MaxPlaceholderLen || ph[0] != '<' || ph[n-1] != '>' || !isUpper(ph[1]) {
		return false
	}
	// The number: digits back from '>' to the last '_'.
	i := n - 2
	for i > 1 && isDigit(ph[i]) {
		i--
	}
	if i == n-2 || ph[i] != '_' || ph[i+1] == '0' {
		return false
	}
	for _, c := range ph[2:i] {
		if !isUpper(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Vault holds one request's placeholder → original pairs, filled by redaction
// plugins and read when the answer is restored. The same original redacted
// twice has one placeholder (the plugin's guest SDK sees to it).
//
// Lookups are O(1) (an open-addressing table over a hash of the placeholder)
// and restoring is linear in the text, whatever the number of pairs.
//
// A Vault is owned by one request and is not safe for concurrent use. Get it
// with AcquireVault and give it back with ReleaseVault, after which it must
// not be touched: pooled vaults keep their buffers, so a steady stream of
// requests adds pairs without allocating.
type Vault struct {
	buf       []byte // placeholders and originals, back to back
	pairs     []pair
	table     []int32 // pair index + 1, 0 = empty; len is 0 or a power of two ≥ 2×len(pairs)
	origBytes int
}

type pair struct{ ph0, ph1, or0, or1 int32 }

// vaultSeed is one seed for every vault: the table is per request and its
// keys come from plugins, which do not see the seed.
var vaultSeed = maphash.MakeSeed()

var vaultPool = sync.Pool{New: func() any { return new(Vault) }}

// AcquireVault returns an empty vault from a pool.
func AcquireVault() *Vault { return vaultPool.Get().(*Vault) }

// ReleaseVault resets v and returns it to the pool; v must not be used after.
func ReleaseVault(v *Vault) {
	v.Reset()
	vaultPool.Put(v)
}

// Add records that placeholder stands for original. Both are copied. A
// placeholder without the documented shape is refused (ErrBadPlaceholder); a
// placeholder already present keeps its first original (a later plugin cannot
// redirect an earlier one's text): Add returns nil if the originals are
// equal, else ErrPlaceholderTaken.
func (v *Vault) Add(placeholder, original []byte) error {
	if !ValidPlaceholder(placeholder) {
		return ErrBadPlaceholder
	}
	if i := v.lookup(placeholder); i >= 0 {
		p := v.pairs[i]
		if bytes.Equal(v.buf[p.or0:p.or1], original) {
			return nil
		}
		return ErrPlaceholderTaken
	}
	p := pair{ph0: int32(len(v.buf))}
	v.buf = append(v.buf, placeholder...)
	p.ph1 = int32(len(v.buf))
	p.or0 = p.ph1
	v.buf = append(v.buf, original...)
	p.or1 = int32(len(v.buf))
	v.pairs = append(v.pairs, p)
	v.origBytes += len(original)
	if 2*len(v.pairs) > len(v.table) {
		v.rehash(max(16, 4*len(v.pairs)))
	} else {
		v.insert(int32(len(v.pairs) - 1))
	}
	return nil
}

// Len returns the number of pairs.
func (v *Vault) Len() int { return len(v.pairs) }

// OriginalBytes returns the total length of the originals held.
func (v *Vault) OriginalBytes() int { return v.origBytes }

// Pair returns the i-th pair in insertion order. The slices are views into
// the vault, valid until the next Add, Truncate or Reset.
func (v *Vault) Pair(i int) (placeholder, original []byte) {
	p := v.pairs[i]
	return v.buf[p.ph0:p.ph1:p.ph1], v.buf[p.or0:p.or1:p.or1]
}

// Lookup returns the original of placeholder, or nil, false.
func (v *Vault) Lookup(placeholder []byte) ([]byte, bool) {
	i := v.lookup(placeholder)
	if i < 0 {
		return nil, false
	}
	p := v.pairs[i]
	return v.buf[p.or0:p.or1:p.or1], true
}

func (v *Vault) lookup(ph []byte) int {
	if len(v.table) == 0 {
		return -1
	}
	mask := uint64(len(v.table) - 1)
	for h := maphash.Bytes(vaultSeed, ph) & mask; ; h = (h + 1) & mask {
		e := v.table[h]
		if e == 0 {
			return -1
		}
		p := v.pairs[e-1]
		if bytes.Equal(v.buf[p.ph0:p.ph1], ph) {
			return int(e - 1)
		}
	}
}

func (v *Vault) insert(i int32) {
	p := v.pairs[i]
	mask := uint64(len(v.table) - 1)
	h := maphash.Bytes(vaultSeed, v.buf[p.ph0:p.ph1]) & mask
	for v.table[h] != 0 {
		h = (h + 1) & mask
	}
	v.table[h] = i + 1
}

// rehash rebuilds the table with at least n slots (rounded up to a power of two).
func (v *Vault) rehash(n int) {
	size := 16
	for size < n {
		size <<= 1
	}
	if cap(v.table) >= size {
		v.table = v.table[:size]
		clear(v.table)
	} else {
		v.table = make([]int32, size)
	}
	for i := range v.pairs {
		v.insert(int32(i))
	}
}

// Truncate drops the pairs from the n-th on (n = an earlier Len), so that a
// redactor whose output failed a check leaves nothing behind.
func (v *Vault) Truncate(n int) {
	if n >= len(v.pairs) {
		return
	}
	for _, p := range v.pairs[n:] {
		v.origBytes -= int(p.or1 - p.or0)
	}
	end := int32(0)
	if n > 0 {
		end = v.pairs[n-1].or1
	}
	v.buf = v.buf[:end]
	v.pairs = v.pairs[:n]
	v.rehash(len(v.table))
}

// Reset empties v, keeping its buffers.
// A table grown past maxPooledTable slots is dropped rather than kept for the
// next request.
func (v *Vault) Reset() {
	if len(v.pairs) > 0 {
		if len(v.table) > maxPooledTable {
			v.table = nil
		} else {
			clear(v.table)
		}
	}
	v.buf = v.buf[:0]
	v.pairs = v.pairs[:0]
	v.origBytes = 0
}

// maxPooledTable bounds the lookup table a pooled vault keeps (1 MiB of int32).
const maxPooledTable = 1 << 18

// Verify checks a redactor's output against the body it was given: the pairs
// from the from-th on (those the redactor added) must each stand where their
// original stood, so that putting the originals back into redacted gives body
// (its characters as they are or JSON-escaped, as a JSON-aware redactor
// decodes them). Every original then occurs in the body it was taken from, and
// a plugin cannot inject text that a restore would put into the answer. A
// placeholder written literally in body (a client typing "<EMAIL_1>") matches
// as itself. Linear in len(body) + len(redacted); it allocates nothing.
func (v *Vault) Verify(body, redacted []byte, from int) error {
	i, j := 0, 0
	for {
		// The text up to the next '<' must be the body's, as is.
		k := bytes.IndexByte(redacted[i:], '<')
		end := len(redacted)
		if k >= 0 {
			end = i + k
		}
		if !bytes.HasPrefix(body[j:], redacted[i:end]) {
			return ErrNotInBody
		}
		j += end - i
		i = end
		if k < 0 {
			break
		}
		if gt := bytes.IndexByte(redacted[i:min(len(redacted), i+MaxPlaceholderLen)], '>'); gt > 0 {
			if n := v.lookup(redacted[i : i+gt+1]); n >= from {
				p := v.pairs[n]
				if n, ok := matchOriginal(body[j:], v.buf[p.or0:p.or1]); ok {
					i += gt + 1
					j += n
					continue
				}
			}
		}
		if j >= len(body) || body[j] != '<' {
			return ErrNotInBody
		}
		i++
		j++
	}
	if j != len(body) {
		return ErrNotInBody
	}
	return nil
}

// matchOriginal reports whether body starts with orig, written as it is or
// with JSON string escapes (a JSON-aware redactor decodes `jane\u0040x.io`
// before it matches, so its original is the decoded text), and how many bytes
// of body it spans. It allocates nothing.
func matchOriginal(body, orig []byte) (int, bool) {
	if bytes.HasPrefix(body, orig) {
		return len(orig), true
	}
	i, k := 0, 0 // body offset, orig offset
	var enc [utf8.UTFMax]byte
	for k < len(orig) {
		if i >= len(body) {
			return 0, false
		}
		c := body[i]
		if c != '\\' {
			if c != orig[k] {
				return 0, false
			}
			i++
			k++
			continue
		}
		if i+1 >= len(body) {
			return 0, false
		}
		var r rune
		n := 2
		switch body[i+1] {
		case '"', '\\', '/':
			r = rune(body[i+1])
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			h, ok := hex4(body[i+2:])
			if !ok {
				return 0, false
			}
			r, n = h, 6
			if utf16.IsSurrogate(r) {
				lo, ok := hex4(body[min(i+8, len(body)):])
				if !ok || i+7 >= len(body) || body[i+6] != '\\' || body[i+7] != 'u' {
					return 0, false
				}
				r, n = utf16.DecodeRune(r, lo), 12
			}
		default:
			return 0, false
		}
		m := utf8.EncodeRune(enc[:], r)
		if k+m > len(orig) || !bytes.Equal(orig[k:k+m], enc[:m]) {
			return 0, false
		}
		i += n
		k += m
	}
	return i, true
}

// hex4 decodes four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Restore appends src to dst with every placeholder replaced by its original,
// JSON-escaped for a JSON string context (src is a JSON text, and placeholders
// only ever stand inside strings). A placeholder whose characters an
// upstream's JSON encoder escaped (`\u003cEMAIL_1\u003e`, Go's default) is
// restored too. It returns the grown dst.
func (v *Vault) Restore(dst, src []byte) []byte {
	dst, _ = v.restore(dst, src, false)
	return dst
}

// Scan results of scanPlaceholder.
const (
	scanNo      = iota // not a placeholder
	scanPartial        // src ends inside what may still become one
	scanFull           // a placeholder of the documented shape
)

// scanPlaceholder reads a placeholder at the start of s, where each
// character may be written as itself or as a JSON \uXXXX escape. It writes
// the placeholder's plain form into ph and returns its length there, the
// bytes of s it spans and the scan result.
func scanPlaceholder(s []byte, ph *[MaxPlaceholderLen]byte) (phLen, n, res int) {
	for n < len(s) {
		c := s[n]
		w := 1
		if c == '\\' {
			if len(s)-n < 6 {
				if !hexPrefix(s[n:]) {
					return 0, 0, scanNo
				}
				return 0, 0, scanPartial
			}
			x, ok := unhex4(s[n+2 : n+6])
			if s[n+1] != 'u' || !ok || x >= 0x80 {
				return 0, 0, scanNo
			}
			c, w = byte(x), 6
		}
		switch {
		case phLen == 0:
			if c != '<' {
				return 0, 0, scanNo
			}
		case phLen == 1:
			if !isUpper(c) {
				return 0, 0, scanNo
			}
		case c == '>':
			ph[phLen] = c
			phLen++
			if !ValidPlaceholder(ph[:phLen]) {
				return 0, 0, scanNo
			}
			return phLen, n + w, scanFull
		case !isUpper(c) && !isDigit(c) && c != '_':
			return 0, 0, scanNo
		}
		if phLen == MaxPlaceholderLen-1 {
			return 0, 0, scanNo
		}
		ph[phLen] = c
		phLen++
		n += w
	}
	return 0, 0, scanPartial
}

// hexPrefix reports whether s (shorter than 6 bytes, starting with '\') may
// still become a \uXXXX escape.
func hexPrefix(s []byte) bool {
	if len(s) >= 2 && s[1] != 'u' {
		return false
	}
	for _, c := range s[min(len(s), 2):] {
		if _, ok := unhexDigit(c); !ok {
			return false
		}
	}
	return true
}

func unhexDigit(c byte) (uint32, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint32(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint32(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint32(c-'A') + 10, true
	}
	return 0, false
}

func unhex4(s []byte) (uint32, bool) {
	var x uint32
	for _, c := range s {
		d, ok := unhexDigit(c)
		if !ok {
			return 0, false
		}
		x = x<<4 | d
	}
	return x, true
}

// restore appends src with placeholders replaced. With hold, a tail of src
// that may be the start of a placeholder (or of an escape) is not written;
// the number of bytes of src consumed is returned.
func (v *Vault) restore(dst, src []byte, hold bool) ([]byte, int) {
	if len(v.pairs) == 0 {
		return append(dst, src...), len(src)
	}
	var ph [MaxPlaceholderLen]byte
	last := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '<' && c != '\\' {
			continue
		}
		phLen, n, res := scanPlaceholder(src[i:], &ph)
		switch res {
		case scanPartial:
			if hold {
				return append(dst, src[last:i]...), i
			}
		case scanFull:
			if k := v.lookup(ph[:phLen]); k >= 0 {
				p := v.pairs[k]
				dst = append(dst, src[last:i]...)
				dst = appendJSONEscaped(dst, v.buf[p.or0:p.or1])
				i += n - 1
				last = i + 1
				continue
			}
		}
		if c == '\\' && i+1 < len(src) {
			i++ // an escape other than a placeholder's: skip the escaped byte
		} else if c == '\\' && hold {
			// A lone trailing backslash escapes the next fragment's first byte.
			return append(dst, src[last:i]...), i
		}
	}
	return append(dst, src[last:]...), len(src)
}

const hexDigits = "0123456789abcdef"

// appendJSONEscaped appends s escaped for the inside of a JSON string.
func appendJSONEscaped(dst, s []byte) []byte {
	last := 0
	for i, c := range s {
		var esc string
		switch {
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c == '\n':
			esc = `\n`
		case c == '\r':
			esc = `\r`
		case c == '\t':
			esc = `\t`
		case c < 0x20:
			dst = append(dst, s[last:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			last = i + 1
			continue
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// StreamRestorer restores placeholders in the successive content fragments
// of one streamed choice, where a placeholder may be split across fragments
// ("<EMA" + "IL_1>", or "\u00" + "3cEMAIL_1\u003e"). It holds back a tail
// that may be the start of a placeholder until the next fragment or Flush.
// Output is JSON-escaped like Vault.Restore, since fragments go back into SSE
// JSON strings. What it holds back is at most one placeholder's escaped
// length.
//
// The zero value is unusable: call Reset first. A StreamRestorer is owned by
// one stream, not safe for concurrent use, and reusable after Reset without
// allocating once its buffers have grown.
type StreamRestorer struct {
	v       *Vault
	pending []byte
	scratch []byte
}

// Reset binds r to v and drops anything held back.
func (r *StreamRestorer) Reset(v *Vault) {
	r.v = v
	r.pending = r.pending[:0]
}

// Restore appends the restored text of frag to dst and returns it. Bytes that
// may begin a placeholder are held back and written by a later call or Flush.
func (r *StreamRestorer) Restore(dst, frag []byte) []byte {
	src := frag
	if len(r.pending) > 0 {
		r.scratch = append(append(r.scratch[:0], r.pending...), frag...)
		src = r.scratch
	}
	dst, n := r.v.restore(dst, src, true)
	r.pending = append(r.pending[:0], src[n:]...)
	return dst
}

// Pending reports whether bytes are held back.
func (r *StreamRestorer) Pending() bool { return len(r.pending) > 0 }

// Flush appends whatever is held back, restored as far as it matches (the
// stream ended, so nothing more can complete a placeholder), and returns dst.
func (r *StreamRestorer) Flush(dst []byte) []byte {
	dst, _ = r.v.restore(dst, r.pending, false)
	r.pending = r.pending[:0]
	return dst
}
