package piitest

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

// benchFuel is the CPU budget the benchmarks give the plugin: a 1 MiB body
// needs more than the host's default of 10M (see README.md "Fuel").
const benchFuel = 2_000_000_000

type benchCase struct {
	name   string
	body   []byte
	match  bool
	config map[string]any // nil = every built-in entity, no terms
	// slowBaseline: the naive baseline's one alternation of 2,006 terms
	// takes about 40 s per MiB; it is measured only with -pii.slow.
	slowBaseline bool
}

func benchCases(tb testing.TB) []benchCase {
	samples, terms, err := LoadAll()
	if err != nil {
		tb.Fatal(err)
	}
	big, _ := BigBody(samples, 1000)
	return []benchCase{
		{"1MiB-1000-entities", big, true, nil, false},
		{"1MiB-1000-entities-2006-terms", big, true, ScorerConfig(terms), true},
		{"2KB-none", SmallBody(), false, nil, false},
		{"2KB-three", SmallBody("jane.doe@example.com", "+49 30 12345678", "4111 1111 1111 1111"), true, nil, false},
	}
}

// redactors returns the plugin (through the real host) and the naive Go
// regexp baseline, configured alike.
func redactors(tb testing.TB, cfg map[string]any) (plugin, baseline plugins.Redactor) {
	p, err := LoadPlugin(context.Background(), PluginPath, cfg, LoadOptions{MaxFuel: benchFuel})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	var terms []string
	if cfg != nil {
		for _, t := range cfg["terms"].([]any) {
			terms = append(terms, t.(string))
		}
		return p, NewBaseline(terms, []string{TenantPattern})
	}
	return p, NewBaseline(nil, nil)
}

func redactOnce(tb testing.TB, r plugins.Redactor, body, out []byte, v *plugins.Vault, match bool) []byte {
	v.Reset()
	out, err := r.Redact(context.Background(), body, out[:0], v)
	if err != nil || (len(out) > 0) != match {
		tb.Fatalf("Redact: %d bytes out, %v (want match %v)", len(out), err, match)
	}
	return out
}

var slow = flag.Bool("pii.slow", false, "also benchmark the naive baseline with the 2,006-term dictionary (about 40 s per call)")

// BenchmarkRedact measures the plugin and the naive baseline on the same
// bodies, in the same run: MB/s is throughput per core (one goroutine).
//
//	go test -run '^$' -bench Redact -benchtime 2s ./plugins/piitest/
func BenchmarkRedact(b *testing.B) {
	for _, bc := range benchCases(b) {
		plugin, baseline := redactors(b, bc.config)
		for _, r := range []struct {
			name string
			r    plugins.Redactor
		}{{"redact-pii", plugin}, {"go-regexp", baseline}} {
			if r.name == "go-regexp" && bc.slowBaseline && !*slow {
				continue
			}
			b.Run(bc.name+"/"+r.name, func(b *testing.B) {
				v, out := new(plugins.Vault), make([]byte, 0, len(bc.body)+4096)
				out = redactOnce(b, r.r, bc.body, out, v, bc.match) // warm up
				b.SetBytes(int64(len(bc.body)))
				b.ReportAllocs()
				for b.Loop() {
					out = redactOnce(b, r.r, bc.body, out, v, bc.match)
				}
			})
		}
	}
}

// BenchmarkRedactRatio alternates the plugin and the baseline on each body
// and reports how many times faster the plugin is (x-vs-regexp), so that
// machine noise hits both sides alike.
func BenchmarkRedactRatio(b *testing.B) {
	for _, bc := range benchCases(b) {
		if bc.slowBaseline && !*slow {
			continue
		}
		plugin, baseline := redactors(b, bc.config)
		b.Run(bc.name, func(b *testing.B) {
			v, out := new(plugins.Vault), make([]byte, 0, len(bc.body)+4096)
			var tp, tb time.Duration
			for b.Loop() {
				t0 := time.Now()
				out = redactOnce(b, plugin, bc.body, out, v, bc.match)
				t1 := time.Now()
				out = redactOnce(b, baseline, bc.body, out, v, bc.match)
				tp, tb = tp+t1.Sub(t0), tb+time.Since(t1)
			}
			b.ReportMetric(float64(tb)/float64(tp), "x-vs-regexp")
			b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N), "plugin-ns/op")
		})
	}
}
