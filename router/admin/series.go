package admin

import (
	"sort"
	"sync"
	"time"
)

// sampler reads Source.Traffic and Source.Cache every interval and keeps
// the last n samples in a ring. Why sample here instead of asking
// Prometheus? The dashboard must work on a PoP with no Prometheus; rates are
// differences of the same cumulative counters /metrics exports.
type sampler struct {
	src      Source
	interval time.Duration
	mu       sync.Mutex
	ring     []sample // len n; next is the slot written next
	next     int
	count    int
	quit     chan struct{}
	done     chan struct{}
	once     sync.Once
	buf      []Traffic
}

// sample is the cumulative state at one instant, summed per upstream and
// per tenant.
type sample struct {
	at        time.Time
	upstreams map[string]totals
	tenants   map[string]totals
	cacheHits uint64 // hits + coalesced
	cacheLook uint64 // hits + coalesced + misses
}

type totals struct {
	requests, errors, ttftCount uint64
	ttftSeconds, cost           float64
}

func (a *totals) add(r *Traffic) {
	a.requests += r.Requests
	a.errors += r.Errors
	a.ttftCount += r.TTFTCount
	a.ttftSeconds += r.TTFTSeconds
	a.cost += r.CostUSD
}

func startSampler(src Source, interval time.Duration, n int) *sampler {
	s := &sampler{src: src, interval: interval, ring: make([]sample, n), quit: make(chan struct{}), done: make(chan struct{})}
	s.take(time.Now())
	go s.run()
	return s
}

func (s *sampler) run() {
	defer close(s.done)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-tick.C:
			s.take(now)
		}
	}
}

func (s *sampler) stop() {
	s.once.Do(func() { close(s.quit) })
	<-s.done
}

func (s *sampler) take(now time.Time) {
	rows := s.src.Traffic(s.buf[:0])
	s.buf = rows[:0]
	sm := sample{at: now, upstreams: map[string]totals{}, tenants: map[string]totals{}}
	for i := range rows {
		r := &rows[i]
		up := r.Upstream
		if up == "" {
			up = "(none)"
		}
		a := sm.upstreams[up]
		a.add(r)
		sm.upstreams[up] = a
		b := sm.tenants[r.Tenant]
		b.add(r)
		sm.tenants[r.Tenant] = b
	}
	if cs, ok := s.src.Cache(); ok {
		sm.cacheHits = cs.Hits + cs.Coalesced
		sm.cacheLook = sm.cacheHits + cs.Misses
	}
	s.mu.Lock()
	s.ring[s.next] = sm
	s.next = (s.next + 1) % len(s.ring)
	if s.count < len(s.ring) {
		s.count++
	}
	s.mu.Unlock()
}

// Series is GET /admin/traffic: one point per sampling interval, each the
// rate over the interval that ends at Times[i]. A null value means "no
// data in that interval" (e.g. no answer had a time to first token).
type Series struct {
	IntervalMS    int64                 `json:"interval_ms"`
	Times         []int64               `json:"times"` // unix milliseconds
	Upstreams     map[string]*GroupRate `json:"upstreams"`
	Tenants       map[string]*GroupRate `json:"tenants"`
	CacheHitRatio []*float64            `json:"cache_hit_ratio"`
}

// GroupRate are one upstream's or tenant's rates.
type GroupRate struct {
	RequestsPerSec []float64  `json:"requests_per_sec"`
	ErrorRatio     []*float64 `json:"error_ratio"` // 5xx answers over answers
	TTFTMS         []*float64 `json:"ttft_ms"`     // mean time to first token
	CostPerMin     []float64  `json:"cost_usd_per_min"`
}

func (s *sampler) series() Series {
	s.mu.Lock()
	samples := make([]sample, 0, s.count)
	for i := 0; i < s.count; i++ {
		samples = append(samples, s.ring[(s.next-s.count+i+len(s.ring))%len(s.ring)])
	}
	s.mu.Unlock()
	out := Series{IntervalMS: s.interval.Milliseconds(), Times: []int64{}, Upstreams: map[string]*GroupRate{},
		Tenants: map[string]*GroupRate{}, CacheHitRatio: []*float64{}}
	names := func(pick func(sample) map[string]totals) []string {
		seen := map[string]bool{}
		for _, sm := range samples {
			for k := range pick(sm) {
				seen[k] = true
			}
		}
		ks := make([]string, 0, len(seen))
		for k := range seen {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	ups, tens := names(func(sm sample) map[string]totals { return sm.upstreams }), names(func(sm sample) map[string]totals { return sm.tenants })
	for _, k := range ups {
		out.Upstreams[k] = &GroupRate{}
	}
	for _, k := range tens {
		out.Tenants[k] = &GroupRate{}
	}
	for i := 1; i < len(samples); i++ {
		prev, cur := samples[i-1], samples[i]
		dt := cur.at.Sub(prev.at).Seconds()
		if dt <= 0 {
			continue
		}
		out.Times = append(out.Times, cur.at.UnixMilli())
		for _, k := range ups {
			out.Upstreams[k].append(prev.upstreams[k], cur.upstreams[k], dt)
		}
		for _, k := range tens {
			out.Tenants[k].append(prev.tenants[k], cur.tenants[k], dt)
		}
		var hr *float64
		if n := cur.cacheLook - prev.cacheLook; cur.cacheLook >= prev.cacheLook && n > 0 {
			v := float64(cur.cacheHits-prev.cacheHits) / float64(n)
			hr = &v
		}
		out.CacheHitRatio = append(out.CacheHitRatio, hr)
	}
	return out
}

// append adds one point from two cumulative totals. A counter that went
// down (an upstream renamed away and back) counts as a fresh start.
func (g *GroupRate) append(prev, cur totals, dt float64) {
	if cur.requests < prev.requests || cur.errors < prev.errors || cur.ttftCount < prev.ttftCount {
		prev = totals{}
	}
	n := cur.requests - prev.requests
	g.RequestsPerSec = append(g.RequestsPerSec, float64(n)/dt)
	var er, tt *float64
	if n > 0 {
		v := float64(cur.errors-prev.errors) / float64(n)
		er = &v
	}
	if c := cur.ttftCount - prev.ttftCount; c > 0 {
		v := (cur.ttftSeconds - prev.ttftSeconds) / float64(c) * 1000
		tt = &v
	}
	g.ErrorRatio = append(g.ErrorRatio, er)
	g.TTFTMS = append(g.TTFTMS, tt)
	cost := cur.cost - prev.cost
	if cost < 0 {
		cost = 0
	}
	g.CostPerMin = append(g.CostPerMin, cost/dt*60)
}
