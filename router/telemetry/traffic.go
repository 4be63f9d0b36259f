package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Traffic is the cumulative traffic of one Labels combination, read from
// the same counters /metrics exports. The admin dashboard samples it over
// time and turns differences into rates. Its fields are in the same order
// and of the same types as admin.Traffic, so the core converts one into the
// other with a plain conversion (admin.Traffic(row)).
type Traffic struct {
	Endpoint, Tenant, Model, Upstream string
	Requests                          uint64  // answers of any status
	Errors                            uint64  // answers with a 5xx status
	CacheHits                         uint64  // answered from the cache or by a coalesced call
	TTFTSeconds                       float64 // sum of times to first token
	TTFTCount                         uint64  // answers with a time to first token
	InputTokens, OutputTokens         uint64
	CostUSD                           float64
}

// AppendTraffic appends one row per Handles ever built, in creation order.
// It reads every child (a few allocations per row): call it from a sampler
// every second or so, not per request.
func (t *Telemetry) AppendTraffic(dst []Traffic) []Traffic {
	t.mu.Lock()
	hs := append([]*Handles(nil), t.order...)
	t.mu.Unlock()
	var m dto.Metric
	read := func(c prometheus.Metric) *dto.Metric {
		m.Reset()
		_ = c.Write(&m)
		return &m
	}
	for _, h := range hs {
		r := Traffic{Endpoint: h.labels.Endpoint, Tenant: h.labels.Tenant, Model: h.labels.Model, Upstream: h.labels.Upstream}
		for si := range h.requests {
			for ci := range h.requests[si] {
				b := h.requests[si][ci].Load()
				if b == nil {
					continue
				}
				n := uint64(read(b.c).GetCounter().GetValue())
				r.Requests += n
				if statusIsError(si) {
					r.Errors += n
				}
				if Cache(ci) == CacheHit || Cache(ci) == CacheCoalesced {
					r.CacheHits += n
				}
			}
		}
		if o, ok := h.ttft.(prometheus.Metric); ok {
			hg := read(o).GetHistogram()
			r.TTFTSeconds, r.TTFTCount = hg.GetSampleSum(), hg.GetSampleCount()
		}
		r.InputTokens = uint64(read(h.tokInput).GetCounter().GetValue())
		r.OutputTokens = uint64(read(h.tokOutput).GetCounter().GetValue())
		r.CostUSD = read(h.cost).GetCounter().GetValue()
		dst = append(dst, r)
	}
	return dst
}
