// Command gencorpus writes the generated half of the PII corpus and the
// tenant dictionary, reproducibly (fixed seed):
//
//	go run ./plugins/piitest/gencorpus
//
// from the repository root. piitest's TestCorpusIsGenerated fails when the
// committed files differ from what this writes.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchyard-dev/switchyard/plugins/piitest"
)

func main() {
	dir := filepath.Join("plugins", "testdata", "pii")
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	var b bytes.Buffer
	if err := piitest.WriteCorpus(&b, piitest.Generate(piitest.Seed, piitest.GeneratedSamples)); err != nil {
		fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, piitest.GeneratedFile), b.Bytes(), 0o644); err != nil {
		fail(err)
	}
	terms := piitest.Terms(piitest.Seed, piitest.GeneratedTerms)
	if err := os.WriteFile(filepath.Join(dir, piitest.TermsFile), []byte(strings.Join(terms, "\n")+"\n"), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gencorpus:", err)
	os.Exit(1)
}
