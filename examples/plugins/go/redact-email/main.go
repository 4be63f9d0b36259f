// Command redact-email is a Switchyard redaction plugin: it replaces e-mail
// addresses in the request body by <EMAIL_1>, <EMAIL_2>, … (the same address
// keeps its placeholder); the router restores them in the answer.
//
// Config: {"entities": ["email"]} ("email" is the only entity it knows; an
// unknown one refuses the config at load).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
package main

import (
	"bytes"
	"encoding/json"
	"errors"

	sdk "github.com/switchyard-dev/switchyard/sdk/go"
)

func init() {
	sdk.Info("redact-email", "1.0.0")
	sdk.Init(Configure)
	sdk.HandleRedact(Redact)
}

var emails = true

// Configure reads {"entities": [...]}.
func Configure(config []byte) error {
	var c struct {
		Entities []string `json:"entities"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return err
	}
	if c.Entities == nil {
		return nil // default: emails
	}
	emails = false
	for _, e := range c.Entities {
		if e != "email" {
			return errors.New("unknown entity " + e + ": this plugin knows only \"email\"")
		}
		emails = true
	}
	return nil
}

// out is reused across calls: an instance serves one call at a time.
var out []byte

// Redact rewrites body with every e-mail address replaced by a placeholder.
func Redact(body []byte, v *sdk.Redaction) []byte {
	if !emails {
		return nil
	}
	out = out[:0]
	last := 0
	for i := 0; i < len(body); i++ {
		// bytes.IndexByte keeps the per-byte loop tiny: fuel is charged per
		// loop iteration by the size of the loop's body.
		j := bytes.IndexByte(body[i:], '@')
		if j < 0 {
			break
		}
		i += j
		start, end := Email(body, i)
		if start < 0 {
			continue
		}
		if last == 0 && cap(out) < len(body)+len(body)/4 {
			// One allocation of the whole output instead of growing it by
			// doubling: with the collector off, every growth step is a new
			// span the runtime must map and set up, which cost about 60 fuel
			// per body byte on a large body (docs/abi.md §7).
			out = make([]byte, 0, len(body)+len(body)/4+256)
		}
		out = append(out, body[last:start]...)
		out = append(out, v.Placeholder("EMAIL", body[start:end])...)
		last, i = end, end-1
	}
	if last == 0 {
		return nil
	}
	out = append(out, body[last:]...) // keep the grown buffer for the next call
	return out
}

// Email returns the bounds of the e-mail address around the '@' at at, or
// -1, -1. It works on JSON text: a backslash escape just before the local part
// (\n, \t, \u00e9, …) is not part of the address.
func Email(b []byte, at int) (start, end int) {
	start = localStart(b, at)
	// Skip an escape sequence glued to the local part.
	if bs := backslashesBefore(b, start); bs%2 == 1 {
		if b[start] == 'u' {
			start += 5
		} else {
			start++
		}
	}
	if start >= at {
		return -1, -1
	}
	end, lastDot := domainEnd(b, at+1)
	for end > at+1 && (b[end-1] == '.' || b[end-1] == '-') { // trailing punctuation
		end--
		if lastDot == end {
			lastDot = -1
			for j := at + 1; j < end; j++ {
				if b[j] == '.' {
					lastDot = j
				}
			}
		}
	}
	if lastDot <= at+1 || end-lastDot < 3 {
		return -1, -1
	}
	if !letters(b[lastDot+1 : end]) {
		return -1, -1
	}
	return start, end
}

// localStart returns where the local part ending before at starts. The
// per-byte loops live in small functions of their own: Go's wasm code jumps
// through one dispatch loop per function, and the fuel counter charges that
// loop's header by the size of the function, so a loop in a big function
// costs far more per iteration than the same loop in a small one.
//
//go:noinline
func localStart(b []byte, at int) int {
	for at > 0 && isLocal(b[at-1]) {
		at--
	}
	return at
}

// domainEnd returns the end of the domain starting at i and its last dot (-1: none).
//
//go:noinline
func domainEnd(b []byte, i int) (end, lastDot int) {
	lastDot = -1
	for i < len(b) && isDomain(b[i]) {
		if b[i] == '.' {
			lastDot = i
		}
		i++
	}
	return i, lastDot
}

// letters reports whether s is ASCII letters only.
//
//go:noinline
func letters(s []byte) bool {
	for _, c := range s {
		if c |= 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func backslashesBefore(b []byte, i int) int {
	n := 0
	for i > 0 && b[i-1] == '\\' {
		n++
		i--
	}
	return n
}

func isLocal(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

func main() {}
