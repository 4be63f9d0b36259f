package piitest

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/switchyard-dev/switchyard/plugins"
)

// Baseline is the naive redactor the benchmarks compare the plugin with:
// what a straightforward Go implementation of the same entities looks like —
// decode the body with encoding/json, run one regexp per entity over every
// string value (validating cards by Luhn, IBANs by mod-97, SSN areas), and
// encode the body again. It implements plugins.Redactor. Safe for
// concurrent use.
type Baseline struct {
	rules []rule
}

type rule struct {
	kind  string // placeholder label
	re    *regexp.Regexp
	valid func(string) bool
}

var _ plugins.Redactor = (*Baseline)(nil)

// baselineSkip mirrors the plugin's unscanned members.
var baselineSkip = map[string]bool{
	"model": true, "role": true, "type": true, "object": true, "id": true, "tool_call_id": true, "call_id": true,
	"previous_response_id": true, "encoding_format": true, "service_tier": true, "effort": true, "status": true,
	"file_id": true, "file_data": true, "data": true, "format": true, "voice": true, "detail": true,
}

// NewBaseline compiles the baseline's expressions, with the tenant's terms
// as one case-insensitive alternation and its patterns.
func NewBaseline(terms, patterns []string) *Baseline {
	b := &Baseline{rules: []rule{
		{"SECRET", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----|\bsk-[A-Za-z0-9_-]{20,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}|\bgithub_pat_[A-Za-z0-9_]{22,}|\bAIza[A-Za-z0-9_-]{35}|\bxox[abprs]-[A-Za-z0-9-]{10,}`), nil},
		{"JWT", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{7,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*`), nil},
		{"EMAIL", regexp.MustCompile(`[\p{L}\p{N}._%+'-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+`), nil},
		{"IBAN", regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b`), validIBAN},
		{"CARD", regexp.MustCompile(`\b[2-6]\d{3}(?:[ -]?\d{2,6}){2,4}\b`), validCard},
		{"SSN", regexp.MustCompile(`\b\d{3}[- ]\d{2}[- ]\d{4}\b`), validSSN},
		{"IP", regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?|::(?:ffff:)?[0-9A-Fa-f.:]*[0-9A-Fa-f]`), nil},
		{"PHONE", regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .\-/]\d{2,8}){0,4}`), validPhone},
	}}
	if len(terms) > 0 {
		q := make([]string, len(terms))
		for i, t := range terms {
			q[i] = regexp.QuoteMeta(t)
		}
		b.rules = append(b.rules, rule{"TERM", regexp.MustCompile(`(?i)\b(?:` + strings.Join(q, "|") + `)\b`), nil})
	}
	for _, p := range patterns {
		b.rules = append(b.rules, rule{"PATTERN", regexp.MustCompile(p), nil})
	}
	return b
}

// Redact implements plugins.Redactor.
func (b *Baseline) Redact(_ context.Context, body, dst []byte, v *plugins.Vault) ([]byte, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return dst, err
	}
	st := &baselineState{seen: map[string]string{}, next: map[string]int{}, v: v}
	doc = b.walk(doc, "", st)
	if len(st.seen) == 0 {
		return dst, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return dst, err
	}
	return append(dst, out...), nil
}

type baselineState struct {
	seen map[string]string // kind + "\x00" + original → placeholder
	next map[string]int
	v    *plugins.Vault
}

func (b *Baseline) walk(x any, key string, st *baselineState) any {
	switch t := x.(type) {
	case string:
		if baselineSkip[key] {
			return t
		}
		for _, r := range b.rules {
			t = r.re.ReplaceAllStringFunc(t, func(m string) string {
				if r.valid != nil && !r.valid(m) {
					return m
				}
				k := r.kind + "\x00" + m
				ph, ok := st.seen[k]
				if !ok {
					st.next[r.kind]++
					ph = "<" + r.kind + "_" + strconv.Itoa(st.next[r.kind]) + ">"
					st.seen[k] = ph
					st.v.Add([]byte(ph), []byte(m))
				}
				return ph
			})
		}
		return t
	case []any:
		for i := range t {
			t[i] = b.walk(t[i], key, st)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = b.walk(e, k, st)
		}
	}
	return x
}

func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func validCard(s string) bool {
	d := onlyDigits(s)
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	for i := range len(d) {
		x := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if x *= 2; x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}

func validIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	rem := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

func validSSN(s string) bool {
	d := onlyDigits(s)
	area, _ := strconv.Atoi(d[:3])
	return area != 0 && area != 666 && area < 900 && d[3:5] != "00" && d[5:] != "0000"
}

func validPhone(s string) bool {
	n := len(onlyDigits(s))
	return n >= 10 && n <= 15
}
