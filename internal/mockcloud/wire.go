package mockcloud

import (
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the small wire helpers every cloud shares: JSON string escaping for hand-built
// bodies (the hot path of the load benchmarks builds chunks by appending, not by reflection),
// realistic ids, and the token estimate used for usage figures.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes U+FFFD, so the
// output is always valid JSON whatever Reply returns.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randAlnum(prefix string, n int) string {
	b := make([]byte, len(prefix), len(prefix)+n)
	copy(b, prefix)
	for range n {
		b = append(b, alnum[rand.IntN(len(alnum))])
	}
	return string(b)
}

func randHex(prefix string, nbytes int) string {
	raw := make([]byte, nbytes)
	for i := range raw {
		raw[i] = byte(rand.Uint32())
	}
	return prefix + hex.EncodeToString(raw)
}

// Ids shaped like each cloud's.
func chatID() string     { return randAlnum("chatcmpl-", 29) }
func cmplID() string     { return randAlnum("cmpl-", 29) }
func callID() string     { return randAlnum("call_", 24) }
func requestID() string  { return randHex("req_", 16) }
func responseID() string { return randHex("resp_", 24) }
func messageID() string  { return randHex("msg_", 24) }
func toolUseID() string  { return randAlnum("tooluse_", 22) }

// uuid4 returns a random RFC 4122 version-4 UUID, the shape of AWS and Azure request ids.
func uuid4() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// fingerprint is the system_fingerprint the mock reports; constant like a real deployment's.
const fingerprint = "fp_5d6fcb4470"

// estimateTokens approximates a tokenizer: about four characters per token, at least one for
// non-empty text. Deterministic, so usage figures are stable across runs.
func estimateTokens(chars int) int {
	if chars <= 0 {
		return 0
	}
	return (chars + 3) / 4
}

// splitPieces cuts reply text into stream pieces the way a tokenizer stream looks: each piece is a
// word with its leading space. The pieces concatenate back to the text exactly.
func splitPieces(text string) []string {
	if text == "" {
		return nil
	}
	pieces := make([]string, 0, strings.Count(text, " ")+1)
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] == ' ' && text[i-1] != ' ' {
			pieces = append(pieces, text[start:i])
			start = i
		}
	}
	return append(pieces, text[start:])
}
