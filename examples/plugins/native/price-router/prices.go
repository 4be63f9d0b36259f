package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/switchyard-dev/switchyard/plugins"
)

// Price is a price per million tokens.
type Price struct {
	In  float64 `json:"in"`
	Out float64 `json:"out"`
}

// Prices is the prices file: per upstream region, and per upstream name for
// the exceptions (a name wins over its region).
//
//	{"regions": {"westeurope": {"in": 2.5, "out": 10}},
//	 "upstreams": {"azure-eu-ptu": {"in": 1.2, "out": 4.8}}}
type Prices struct {
	Regions   map[string]Price `json:"regions"`
	Upstreams map[string]Price `json:"upstreams"`
}

// readPrices reads and checks a prices file.
func readPrices(path string) (*Prices, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Prices
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, m := range []map[string]Price{p.Regions, p.Upstreams} {
		for k, v := range m {
			if v.In < 0 || v.Out < 0 {
				return nil, fmt.Errorf("%s: negative price for %q", path, k)
			}
		}
	}
	return &p, nil
}

// price returns u's price: the file's (by name, then by region), else the
// router's table; ok is false when neither knows one.
func (p *Prices) price(u *plugins.Upstream) (Price, bool) {
	if pr, ok := p.Upstreams[u.Name]; ok {
		return pr, true
	}
	if pr, ok := p.Regions[u.Region]; ok {
		return pr, true
	}
	if u.PriceIn > 0 || u.PriceOut > 0 {
		return Price{In: float64(u.PriceIn), Out: float64(u.PriceOut)}, true
	}
	return Price{}, false
}

type candidate struct {
	idx     int
	cost    float64
	priced  bool
	latency uint32
}

// cheapest appends to dst the healthy upstreams of ups, cheapest first for a
// request of promptTokens in and outTokens out; unpriced ones come last, ties
// go to the lower latency. No healthy upstream: dst unchanged (no opinion).
func (p *Prices) cheapest(dst []int, ups []plugins.Upstream, promptTokens, outTokens int) []int {
	cs := make([]candidate, 0, len(ups))
	for i := range ups {
		u := &ups[i]
		if !u.Healthy {
			continue
		}
		pr, ok := p.price(u)
		cs = append(cs, candidate{
			idx: i, priced: ok, latency: u.LatencyUS,
			cost: float64(promptTokens)*pr.In + float64(outTokens)*pr.Out,
		})
	}
	slices.SortStableFunc(cs, func(a, b candidate) int {
		if a.priced != b.priced {
			if a.priced {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.cost, b.cost); c != 0 {
			return c
		}
		return cmp.Compare(a.latency, b.latency)
	})
	for _, c := range cs {
		dst = append(dst, c.idx)
	}
	return dst
}
