// Command my-router is a Switchyard routing plugin: it answers with the
// healthy upstreams, fastest first by time to first byte (ties: fewer
// attempts in flight, then table order), or no opinion when none is healthy.
//
// Build: switchyard plugin build   (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .)
package main

import (
	"cmp"
	"slices"

	sdk "github.com/switchyard-dev/switchyard/sdk/go"
)

func init() {
	sdk.Info("my-router", "0.1.0")
	sdk.HandleRoute(Route)
}

// order is reused across calls: an instance serves one call at a time.
var order sdk.Decision

// Route returns the healthy upstreams, fastest first.
func Route(req *sdk.Request, ups []sdk.Upstream) sdk.Decision {
	order = order[:0]
	for i, u := range ups {
		if u.Healthy {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(ups[a].TTFBUS, ups[b].TTFBUS); c != 0 {
			return c
		}
		return cmp.Compare(ups[a].InFlight, ups[b].InFlight)
	})
	return order
}

func main() {}
