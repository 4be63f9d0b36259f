package conformance

import (
	"context"
	"os"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

// Per-language cost of one hook call through a pooled instance (host and
// guest), on the typical inputs: the three-cloud table of "mixed-health" and
// redactBody, which every redact example rewrites (an address and a card
// number). module-bytes is the module's size.
//
//	go test ./plugins/conformance -run '^$' -bench . -benchtime 20000x

// redactBody is a typical chat request with one e-mail address and one card
// number: every redact example has something to rewrite.
var redactBody = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Mail bob@example.com about card 4111111111111111, please."}]}`)

// routeVector returns a route vector by name.
func routeVector(tb testing.TB, name string) *RouteVector {
	v := vectors(tb)
	for i := range v.Route {
		if v.Route[i].Name == name {
			return &v.Route[i]
		}
	}
	tb.Fatalf("no route vector %q", name)
	return nil
}

func moduleSize(tb testing.TB, path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return float64(fi.Size())
}

func BenchmarkRoute(b *testing.B) {
	rv := routeVector(b, "mixed-health")
	req, ups := rv.Request.View(), Table(rv.Upstreams)
	for _, ex := range examples(b) {
		p := load(b, ex.Path, 0)
		if !p.Kinds().Has(plugins.KindRoute) {
			continue
		}
		b.Run(ex.String(), func(b *testing.B) {
			ctx, dst := context.Background(), make([]int, 0, 8)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = p.Route(ctx, req, ups, dst[:0]); err != nil || len(dst) == 0 {
					b.Fatal(dst, err)
				}
			}
			b.ReportMetric(moduleSize(b, ex.Path), "module-bytes")
		})
	}
}

func BenchmarkRedact(b *testing.B) {
	for _, ex := range examples(b) {
		p := load(b, ex.Path, 0)
		if !p.Kinds().Has(plugins.KindRedact) {
			continue
		}
		b.Run(ex.String(), func(b *testing.B) {
			ctx, v := context.Background(), plugins.AcquireVault()
			defer plugins.ReleaseVault(v)
			dst := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				v.Reset()
				var err error
				if dst, err = p.Redact(ctx, redactBody, dst[:0], v); err != nil || len(dst) == 0 {
					b.Fatal(err)
				}
			}
			b.ReportMetric(moduleSize(b, ex.Path), "module-bytes")
		})
	}
}
