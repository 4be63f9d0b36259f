package piitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

// Targets of issue 13: the scorer fails below them.
const (
	minRecall    = 0.99
	minKeptShare = 0.98
)

// score is the outcome of running a corpus through a redactor.
type score struct {
	found, total map[string]int // per entity kind: redacted / labelled
	kept, looks  map[string]int // per look-alike kind: survived / labelled
	misses       []string       // a few examples of each failure, for the log
	badJSON      int
	badRestore   int
}

func newScore() *score {
	return &score{found: map[string]int{}, total: map[string]int{}, kept: map[string]int{}, looks: map[string]int{}}
}

func (s *score) miss(format string, args ...any) {
	if len(s.misses) < 40 {
		s.misses = append(s.misses, fmt.Sprintf(format, args...))
	}
}

// run puts each sample in a body (rotating shapes, every third one with its
// '@' and non-ASCII characters as \u escapes), redacts it, and checks that
// no labelled value reaches the decoded body, every look-alike does, the
// output is valid JSON, and restoring the placeholders gives the original.
func run(t *testing.T, r plugins.Redactor, samples []Sample) *score {
	t.Helper()
	s := newScore()
	ctx := context.Background()
	for i, smp := range samples {
		shape := Shapes[i%len(Shapes)]
		body := Body(shape, smp.Text, i%3 == 0)
		v := new(plugins.Vault)
		out, err := r.Redact(ctx, body, nil, v)
		if err != nil {
			t.Fatalf("%s (%s): Redact: %v", smp.ID, shape, err)
		}
		if len(out) == 0 {
			out = body
		}
		if !json.Valid(out) {
			s.badJSON++
			s.miss("%s (%s): invalid JSON out: %s", smp.ID, shape, out)
			continue
		}
		texts, _ := Texts(out)
		has := func(val string) bool {
			return slices.ContainsFunc(texts, func(x string) bool { return strings.Contains(x, val) })
		}
		for _, l := range smp.Entities {
			s.total[l.Kind]++
			if has(l.Value) {
				s.miss("%s (%s): %s %s %q leaked", smp.ID, shape, l.Kind, l.Format, l.Value)
				continue
			}
			s.found[l.Kind]++
		}
		for _, l := range smp.Lookalikes {
			s.looks[l.Kind]++
			if !has(l.Value) {
				s.miss("%s (%s): look-alike %s %q redacted: %s", smp.ID, shape, l.Kind, l.Value, out)
				continue
			}
			s.kept[l.Kind]++
		}
		restored := v.Restore(nil, out)
		want, _ := Texts(body)
		got, err := Texts(restored)
		sort.Strings(want)
		sort.Strings(got)
		if err != nil || !slices.Equal(want, got) {
			s.badRestore++
			s.miss("%s (%s): restore differs: %s", smp.ID, shape, restored)
		}
	}
	return s
}

// report logs the table and returns the failures against the targets.
func (s *score) report(t *testing.T, name string) (fails []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: recall per entity\n", name)
	for _, k := range Kinds {
		if s.total[k] == 0 {
			fails = append(fails, k+": no samples")
			continue
		}
		r := float64(s.found[k]) / float64(s.total[k])
		fmt.Fprintf(&b, "  %-8s %5d/%-5d recall %.4f\n", k, s.found[k], s.total[k], r)
		if r < minRecall {
			fails = append(fails, fmt.Sprintf("%s recall %.4f < %.2f", k, r, minRecall))
		}
	}
	var kinds []string
	var kept, all int
	for k := range s.looks {
		kinds = append(kinds, k)
		kept += s.kept[k]
		all += s.looks[k]
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "%s: look-alikes kept\n", name)
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-18s %5d/%-5d\n", k, s.kept[k], s.looks[k])
	}
	share := float64(kept) / float64(max(all, 1))
	fmt.Fprintf(&b, "  all                %5d/%-5d kept %.4f\n", kept, all, share)
	if share < minKeptShare {
		fails = append(fails, fmt.Sprintf("look-alikes kept %.4f < %.2f", share, minKeptShare))
	}
	if s.badJSON > 0 || s.badRestore > 0 {
		fails = append(fails, fmt.Sprintf("%d invalid JSON outputs, %d failed restores", s.badJSON, s.badRestore))
	}
	t.Log(b.String())
	return fails
}

// TestCorpusScore is the scorer: the built plugin, loaded through the real
// host, on the whole corpus. It fails below recall 0.99 for any entity kind
// or below 0.98 of look-alikes kept, on any invalid JSON output, and on any
// body that does not restore to the original.
//
//	go test -run TestCorpusScore -v ./plugins/piitest/
func TestCorpusScore(t *testing.T) {
	samples, terms, err := LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 2000 {
		t.Fatalf("corpus has %d samples, want at least 2000", len(samples))
	}
	p, err := LoadPlugin(context.Background(), PluginPath, ScorerConfig(terms), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := run(t, p, samples)
	fails := s.report(t, "redact-pii")
	for _, m := range s.misses {
		t.Log(m)
	}
	if len(fails) > 0 {
		t.Fatalf("below target: %s", strings.Join(fails, "; "))
	}
}

// TestBaselineScore reports the naive regexp baseline's quality on the same
// corpus, for comparison; it asserts only that the baseline runs and leaves
// valid JSON (the baseline is not held to the targets). It runs without the
// dictionary: one Go regexp alternation of 2,006 terms needs about 25 s for
// the corpus (the benchmarks measure it with -pii.slow), so its term recall
// reads 0.
func TestBaselineScore(t *testing.T) {
	samples, _, err := LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	s := run(t, NewBaseline(nil, []string{TenantPattern}), samples)
	s.report(t, "go-regexp baseline")
	if s.badJSON > 0 {
		t.Fatalf("baseline produced %d invalid JSON bodies", s.badJSON)
	}
}

// TestCorpusIsGenerated regenerates the generated corpus and the terms and
// compares them with the committed files: the corpus is reproducible from
// its generator (go run ./plugins/piitest/gencorpus).
func TestCorpusIsGenerated(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCorpus(&b, Generate(Seed, GeneratedSamples)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		want []byte
	}{
		{GeneratedFile, b.Bytes()},
		{TermsFile, []byte(strings.Join(Terms(Seed, GeneratedTerms), "\n") + "\n")},
	} {
		got, err := readFile(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s differs from its generator: run go run ./plugins/piitest/gencorpus and commit", f.name)
		}
	}
	// Every labelled value is in its text (ReadCorpus checks), and the
	// generated corpus covers every entity kind.
	samples, err := ReadCorpus(corpusPath(GeneratedFile))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, s := range samples {
		for _, l := range s.Entities {
			kinds[l.Kind] = true
		}
	}
	for _, k := range Kinds {
		if !kinds[k] {
			t.Errorf("generated corpus has no %s", k)
		}
	}
}
