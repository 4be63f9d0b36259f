//go:build !race

package conformance

import (
	"context"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

// TestHostAllocs asserts that a warm call into every example, in every
// language, allocates nothing on the host side.
func TestHostAllocs(t *testing.T) {
	rv, dv := routeVector(t, "mixed-health"), redactBody
	req, ups := rv.Request.View(), Table(rv.Upstreams)
	ctx := context.Background()
	for _, ex := range examples(t) {
		t.Run(ex.String(), func(t *testing.T) {
			p := load(t, ex.Path, 0)
			if p.Kinds().Has(plugins.KindRoute) {
				dst := make([]int, 0, 8)
				n := testing.AllocsPerRun(200, func() {
					var err error
					if dst, err = p.Route(ctx, req, ups, dst[:0]); err != nil {
						t.Fatal(err)
					}
				})
				if n != 0 {
					t.Errorf("route: %v allocations per call", n)
				}
			}
			if p.Kinds().Has(plugins.KindRedact) {
				v := plugins.AcquireVault()
				defer plugins.ReleaseVault(v)
				dst := make([]byte, 0, 4096)
				n := testing.AllocsPerRun(200, func() {
					v.Reset()
					var err error
					if dst, err = p.Redact(ctx, dv, dst[:0], v); err != nil {
						t.Fatal(err)
					}
				})
				if n != 0 {
					t.Errorf("redact: %v allocations per call", n)
				}
			}
		})
	}
}
