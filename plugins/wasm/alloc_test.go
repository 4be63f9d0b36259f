//go:build !race

package wasm

import (
	"context"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

// TestCallPathZeroAlloc guards the hot path: a route call and a redact call
// with no match on a pooled instance allocate nothing on the host side.
func TestCallPathZeroAlloc(t *testing.T) {
	for _, name := range []string{"echo", "oob"} {
		p := load(t, name, nil)
		ctx := context.Background()
		req, ups := testRequest(2), testUpstreams()
		if name == "oob" {
			req = testRequest(7)
		}
		dst := make([]int, 0, 8)
		body := []byte(`{"model":"gpt-5.5","messages":[{"role":"user","content":"hello"}]}`)
		out := make([]byte, 0, 256)
		v := new(plugins.Vault)
		route := func() {
			var err error
			if dst, err = p.Route(ctx, req, ups, dst[:0]); err != nil || len(dst) == 0 {
				t.Fatalf("Route = %v, %v", dst, err)
			}
		}
		redact := func() {
			var err error
			if out, err = p.Redact(ctx, body, out[:0], v); err != nil || len(out) != 0 {
				t.Fatalf("Redact = %q, %v", out, err)
			}
		}
		for _, c := range []struct {
			name string
			f    func()
		}{{"route", route}, {"redact", redact}} {
			c.f()
			if n := testing.AllocsPerRun(200, c.f); n != 0 {
				t.Errorf("%s %s: %v allocs per call, want 0", name, c.name, n)
			}
		}
	}
}
