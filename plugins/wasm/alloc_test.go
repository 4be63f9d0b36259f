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
	var goRedact *Plugin
	for _, name := range []string{"echo", "oob", "go"} {
		var p *Plugin
		req, ups := testRequest(2), testUpstreams()
		switch name {
		case "go":
			// A Go guest serves the route hook with cheapest-healthy and the
			// redact hook with redact-email: two plugins, same checks.
			p = loadPath(t, Config{Name: "go", Wasm: goExample(t, "cheapest-healthy"), PoolSize: 1})
			goRedact = loadPath(t, Config{Name: "go", Wasm: goExample(t, "redact-email"), PoolSize: 1})
		case "oob":
			p = load(t, name, nil)
			req = testRequest(7)
		default:
			p = load(t, name, nil)
		}
		ctx := context.Background()
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
		rp := p
		if name == "go" {
			rp = goRedact
		}
		redact := func() {
			var err error
			if out, err = rp.Redact(ctx, body, out[:0], v); err != nil || len(out) != 0 {
				t.Fatalf("Redact = %q, %v", out, err)
			}
		}
		for _, c := range []struct {
			name string
			f    func()
		}{{"route", route}, {"redact", redact}} {
			for range 50 { // warm up: let a Go guest's heap reach its steady size
				c.f()
			}
			if n := testing.AllocsPerRun(200, c.f); n != 0 {
				t.Errorf("%s %s: %v allocs per call, want 0", name, c.name, n)
			}
		}
	}
}
