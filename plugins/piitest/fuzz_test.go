package piitest

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

// FuzzRedact feeds arbitrary texts, in every body shape and with and without
// \u escapes, through the plugin: it must never fail on valid JSON, its
// output must be valid JSON, and restoring the placeholders must give back
// exactly the original strings. Seeds: the hand-written corpus.
//
//	go test -run '^$' -fuzz FuzzRedact -fuzztime 60s ./plugins/piitest/
func FuzzRedact(f *testing.F) {
	samples, err := ReadCorpus(corpusPath(HandwrittenFile))
	if err != nil {
		f.Fatal(err)
	}
	for i, s := range samples {
		f.Add(s.Text, uint8(i))
	}
	f.Add("\\u0040 \\\\\" \x00\x1f \xff\xfe <EMAIL_1> \\ud83d", uint8(3))
	terms, err := ReadTerms(corpusPath(TermsFile))
	if err != nil {
		f.Fatal(err)
	}
	p, err := LoadPlugin(context.Background(), PluginPath, ScorerConfig(terms), LoadOptions{MaxFuel: benchFuel})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	f.Fuzz(func(t *testing.T, text string, variant uint8) {
		body := Body(Shapes[int(variant)%len(Shapes)], text, variant&0x80 != 0)
		v := new(plugins.Vault)
		out, err := p.Redact(context.Background(), body, nil, v)
		if err != nil {
			t.Fatalf("Redact(%q): %v", body, err)
		}
		if len(out) == 0 {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON out of %q: %q", body, out)
		}
		want, _ := Texts(body)
		got, err := Texts(v.Restore(nil, out))
		sort.Strings(want)
		sort.Strings(got)
		if err != nil || !slices.Equal(want, got) {
			t.Fatalf("restore of %q: got %q, want %q", out, got, want)
		}
	})
}
