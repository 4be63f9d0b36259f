//go:build !race

package piitest

import (
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

// TestRedactZeroHostAlloc guards the call path: once warm, a redact call of
// the plugin allocates nothing on the host, with no match and with matches
// (the pooled vault and output buffer keep their capacity).
func TestRedactZeroHostAlloc(t *testing.T) {
	plugin, _ := redactors(t, nil)
	for _, bc := range benchCases(t) {
		if bc.config != nil {
			continue
		}
		v, out := new(plugins.Vault), make([]byte, 0, len(bc.body)+4096)
		f := func() { out = redactOnce(t, plugin, bc.body, out, v, bc.match) }
		for range 20 {
			f()
		}
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v host allocations per call, want 0", bc.name, n)
		}
	}
}
