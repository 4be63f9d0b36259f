package plugins

import (
	"bytes"
	"sync"
)

// Vault holds one request's placeholder → original pairs, filled by redaction
// plugins and read when the answer is restored. The same original redacted
// twice has one placeholder (the plugin's guest SDK sees to it).
//
// A Vault is owned by one request and is not safe for concurrent use. Get it
// with AcquireVault and give it back with ReleaseVault, after which it must
// not be touched: pooled vaults keep their buffers, so a steady stream of
// requests adds pairs without allocating.
type Vault struct {
	buf   []byte // placeholders and originals, back to back
	pairs []pair
	first [256]bool // first bytes of placeholders, for a fast scan
}

type pair struct{ ph0, ph1, or0, or1 int32 }

var vaultPool = sync.Pool{New: func() any { return new(Vault) }}

// AcquireVault returns an empty vault from a pool.
func AcquireVault() *Vault { return vaultPool.Get().(*Vault) }

// ReleaseVault resets v and returns it to the pool; v must not be used after.
func ReleaseVault(v *Vault) {
	v.Reset()
	vaultPool.Put(v)
}

// Add records that placeholder stands for original. Both are copied. An
// empty placeholder is ignored; a placeholder already present keeps its
// first original (a later plugin cannot redirect an earlier one's text).
func (v *Vault) Add(placeholder, original []byte) {
	if len(placeholder) == 0 || v.lookup(placeholder) >= 0 {
		return
	}
	p := pair{ph0: int32(len(v.buf))}
	v.buf = append(v.buf, placeholder...)
	p.ph1 = int32(len(v.buf))
	p.or0 = p.ph1
	v.buf = append(v.buf, original...)
	p.or1 = int32(len(v.buf))
	v.pairs = append(v.pairs, p)
	v.first[placeholder[0]] = true
}

// Len returns the number of pairs.
func (v *Vault) Len() int { return len(v.pairs) }

// Pair returns the i-th pair in insertion order. The slices are views into
// the vault, valid until the next Add or Reset.
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
	for i, p := range v.pairs {
		if bytes.Equal(v.buf[p.ph0:p.ph1], ph) {
			return i
		}
	}
	return -1
}

// Reset empties v, keeping its buffers.
func (v *Vault) Reset() {
	for _, p := range v.pairs {
		v.first[v.buf[p.ph0]] = false
	}
	v.buf = v.buf[:0]
	v.pairs = v.pairs[:0]
}

// Restore appends src to dst with every placeholder replaced by its original,
// JSON-escaped for a JSON string context (src is a JSON text, and placeholders
// only ever stand inside strings). It returns the grown dst.
func (v *Vault) Restore(dst, src []byte) []byte {
	dst, _ = v.restore(dst, src, false)
	return dst
}

// match returns the index of the longest placeholder at the start of s, or -1.
// partial is true when s is a proper prefix of some placeholder (it may be
// completed by the next fragment).
func (v *Vault) match(s []byte) (idx int, partial bool) {
	idx = -1
	best := 0
	for i, p := range v.pairs {
		ph := v.buf[p.ph0:p.ph1]
		if len(ph) <= len(s) {
			if len(ph) > best && bytes.Equal(s[:len(ph)], ph) {
				idx, best = i, len(ph)
			}
		} else if bytes.Equal(ph[:len(s)], s) {
			partial = true
		}
	}
	return idx, partial
}

// restore appends src with placeholders replaced. With hold, a tail of src
// that may be the start of a placeholder is not written; the number of bytes
// of src consumed is returned.
func (v *Vault) restore(dst, src []byte, hold bool) ([]byte, int) {
	if len(v.pairs) == 0 {
		return append(dst, src...), len(src)
	}
	last := 0
	for i := 0; i < len(src); i++ {
		if !v.first[src[i]] {
			continue
		}
		idx, partial := v.match(src[i:])
		if hold && partial {
			// A longer placeholder may still complete with the next fragment.
			return append(dst, src[last:i]...), i
		}
		if idx >= 0 {
			p := v.pairs[idx]
			dst = append(dst, src[last:i]...)
			dst = appendJSONEscaped(dst, v.buf[p.or0:p.or1])
			i += int(p.ph1-p.ph0) - 1
			last = i + 1
			continue
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
// ("<EMA" + "IL_1>"). It holds back a tail that may be the start of a
// placeholder until the next fragment or Flush. Output is JSON-escaped like
// Vault.Restore, since fragments go back into SSE JSON strings.
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
