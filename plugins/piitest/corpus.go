package piitest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrBadCorpus reports a corpus line that does not parse or whose labels
// are not in its text.
var ErrBadCorpus = errors.New("piitest: bad corpus")

// Entity kinds, as the corpus labels them. Each maps to one placeholder kind
// of the plugin (<EMAIL_n>, …).
const (
	Email   = "email"
	Phone   = "phone"
	Card    = "card"
	IBAN    = "iban"
	SSN     = "ssn"
	IP      = "ip"
	JWT     = "jwt"
	Secret  = "secret"
	Term    = "term"
	Pattern = "pattern"
)

// Kinds lists the entity kinds in report order.
var Kinds = []string{Email, Phone, Card, IBAN, SSN, IP, JWT, Secret, Term, Pattern}

// Sample is one labelled text: every Entity value must be redacted from it,
// every Lookalike value must survive.
type Sample struct {
	ID         string  `json:"id"`
	Text       string  `json:"text"`
	Entities   []Label `json:"entities,omitempty"`
	Lookalikes []Label `json:"lookalikes,omitempty"`
}

// Label is one labelled span: its kind (an entity kind, or a look-alike
// kind such as "date") and its exact text. Format names the variant
// ("e164", "de-national", "iban-spaced", …) for reports.
type Label struct {
	Kind   string `json:"kind"`
	Format string `json:"format,omitempty"`
	Value  string `json:"value"`
}

// Corpus files, relative to this package's directory.
var (
	CorpusDir       = filepath.Join("..", "testdata", "pii")
	GeneratedFile   = "generated.jsonl"
	HandwrittenFile = "handwritten.jsonl"
	TermsFile       = "terms.txt"
)

// ReadCorpus reads a JSONL corpus file and checks every label occurs in its
// sample's text.
func ReadCorpus(path string) ([]Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Sample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var s Sample
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrBadCorpus, path, line, err)
		}
		for _, l := range append(s.Entities, s.Lookalikes...) {
			if l.Value == "" || !strings.Contains(s.Text, l.Value) {
				return nil, fmt.Errorf("%w: %s:%d: label %s %q not in text", ErrBadCorpus, path, line, l.Kind, l.Value)
			}
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// WriteCorpus writes samples as JSONL, one sample a line, without HTML
// escaping (so the file reads as the texts are).
func WriteCorpus(w io.Writer, samples []Sample) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range samples {
		if err := enc.Encode(&samples[i]); err != nil {
			return err
		}
	}
	return nil
}

// ReadTerms reads the tenant dictionary: one term a line.
func ReadTerms(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var terms []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			terms = append(terms, l)
		}
	}
	return terms, nil
}

// LoadAll reads the generated and hand-written corpus and the terms.
func LoadAll() (samples []Sample, terms []string, err error) {
	for _, f := range []string{GeneratedFile, HandwrittenFile} {
		s, err := ReadCorpus(filepath.Join(CorpusDir, f))
		if err != nil {
			return nil, nil, err
		}
		samples = append(samples, s...)
	}
	terms, err = ReadTerms(filepath.Join(CorpusDir, TermsFile))
	return samples, terms, err
}

func corpusPath(name string) string { return filepath.Join(CorpusDir, name) }

func readFile(name string) ([]byte, error) { return os.ReadFile(corpusPath(name)) }
