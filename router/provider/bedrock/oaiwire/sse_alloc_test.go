//go:build !race

package oaiwire

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// TestReaderZeroAlloc: once warm, reading a stream allocates nothing.
func TestReaderZeroAlloc(t *testing.T) {
	var sr strings.Reader
	r := NewReader(&sr, nil)
	var ev provider.Event
	run := func() {
		sr.Reset(refStream)
		r.Reset(&sr, nil)
		for r.Next(&ev) == nil {
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%.1f allocs per stream", n)
	}
}
