package admin

import (
	"math"
	"testing"
	"time"
)

// fixedSource returns whatever rows the test set last.
type fixedSource struct {
	rows  []Traffic
	cache CacheStats
}

func (f *fixedSource) Upstreams(dst []Upstream) []Upstream { return dst }
func (f *fixedSource) Plugins(dst []Plugin) []Plugin       { return dst }
func (f *fixedSource) Cache() (CacheStats, bool)           { return f.cache, true }
func (f *fixedSource) PurgeCache(string, string) error     { return nil }
func (f *fixedSource) Config() ([]byte, string)            { return nil, "" }
func (f *fixedSource) Traffic(dst []Traffic) []Traffic     { return append(dst, f.rows...) }

var timeZero = time.Unix(0, 0)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSeriesRates(t *testing.T) {
	src := &fixedSource{}
	s := &sampler{src: src, interval: 2 * time.Second, ring: make([]sample, 3), quit: make(chan struct{}), done: make(chan struct{})}
	t0 := time.Unix(1000, 0)
	s.take(t0)
	src.rows = []Traffic{
		{Tenant: "acme", Upstream: "azure-eu", Requests: 10, Errors: 1, TTFTSeconds: 2, TTFTCount: 8, CostUSD: 0.5},
		{Tenant: "beta", Upstream: "azure-eu", Requests: 10, CostUSD: 0.5},
		{Tenant: "acme", Upstream: "", Requests: 4}, // refused before routing
	}
	src.cache = CacheStats{Hits: 3, Coalesced: 1, Misses: 4}
	s.take(t0.Add(2 * time.Second))
	src.rows[0].Requests, src.rows[0].Errors = 30, 11 // 20 more, 10 of them 5xx, no TTFT
	src.cache = CacheStats{Hits: 3, Coalesced: 1, Misses: 4}
	s.take(t0.Add(4 * time.Second))
	src.rows[0].Requests = 31
	s.take(t0.Add(6 * time.Second)) // the ring holds 3: the first sample is gone

	got := s.series()
	if len(got.Times) != 2 || got.Times[1] != t0.Add(6*time.Second).UnixMilli() || got.IntervalMS != 2000 {
		t.Fatalf("times %v", got.Times)
	}
	az := got.Upstreams["azure-eu"]
	if az == nil || got.Upstreams["(none)"] == nil || got.Tenants["acme"] == nil || got.Tenants["beta"] == nil {
		t.Fatalf("groups %v %v", got.Upstreams, got.Tenants)
	}
	if !near(az.RequestsPerSec[0], 10) || !near(az.RequestsPerSec[1], 0.5) {
		t.Fatalf("rps %v", az.RequestsPerSec)
	}
	if az.ErrorRatio[0] == nil || !near(*az.ErrorRatio[0], 0.5) || az.TTFTMS[0] != nil {
		t.Fatalf("error ratio %v ttft %v", az.ErrorRatio, az.TTFTMS)
	}
	if !near(az.CostPerMin[0], 0) || got.CacheHitRatio[0] != nil {
		t.Fatalf("cost %v cache %v", az.CostPerMin, got.CacheHitRatio)
	}

	// From the start: the first interval has TTFT, cost and cache hits.
	s2 := &sampler{src: &fixedSource{}, interval: time.Second, ring: make([]sample, 10)}
	s2.take(t0)
	s2.src = src
	src.rows[0] = Traffic{Tenant: "acme", Upstream: "azure-eu", Requests: 10, TTFTSeconds: 2, TTFTCount: 8, CostUSD: 0.5}
	s2.take(t0.Add(time.Second))
	g := s2.series()
	a := g.Upstreams["azure-eu"]
	if !near(*a.TTFTMS[0], 250) || !near(a.CostPerMin[0], 60) || !near(*g.CacheHitRatio[0], 0.5) || *a.ErrorRatio[0] != 0 {
		t.Fatalf("ttft %v cost %v cache %v", *a.TTFTMS[0], a.CostPerMin, *g.CacheHitRatio[0])
	}
	if !near(g.Tenants["beta"].RequestsPerSec[0], 10) || !near(g.Tenants["acme"].RequestsPerSec[0], 14) {
		t.Fatalf("tenants %v %v", g.Tenants["beta"].RequestsPerSec, g.Tenants["acme"].RequestsPerSec)
	}
}
