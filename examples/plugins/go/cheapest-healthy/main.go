// Command cheapest-healthy is a Switchyard routing plugin: it sends a request
// to the healthy upstreams ordered by price (input + output price per
// million tokens), then by latency; with no healthy upstream it has no
// opinion and the router's default order applies.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
package main

import (
	"slices"

	sdk "github.com/switchyard-dev/switchyard/sdk/go"
)

func init() {
	sdk.Info("cheapest-healthy", "1.0.0")
	sdk.HandleRoute(Route)
}

// order is reused across calls: an instance serves one call at a time.
var order []int

// Route returns the healthy upstreams, cheapest first, then fastest.
func Route(req *sdk.Request, ups []sdk.Upstream) sdk.Decision {
	order = order[:0]
	for i, u := range ups {
		if u.Healthy {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		pa, pb := ups[a].PriceIn+ups[a].PriceOut, ups[b].PriceIn+ups[b].PriceOut
		switch {
		case pa < pb:
			return -1
		case pa > pb:
			return 1
		case ups[a].LatencyUS < ups[b].LatencyUS:
			return -1
		case ups[a].LatencyUS > ups[b].LatencyUS:
			return 1
		}
		return 0
	})
	return order
}

func main() {}
