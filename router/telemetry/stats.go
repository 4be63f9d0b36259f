package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is what the metrics read from the instance's live state at scrape
// time: upstream health and EWMAs, plugin host counters, the cache. The
// router's Instance implements it (its upstream pools, plugin host and
// cache live as long as the process). Each method is called once per scrape,
// never per request. dst may be reused: append to it.
type Stats interface {
	UpstreamStats(dst []UpstreamStat) []UpstreamStat
	PluginStats(dst []PluginStat) []PluginStat
	// CacheStats reports false when the instance has no cache.
	CacheStats() (CacheStat, bool)
	// LoadStats is what the PoP serves now and its bounds.
	LoadStats() LoadStat
}

// LoadStat is the PoP's live load against its bounds (limits.max_streams,
// limits.max_in_flight); a zero bound is exported as absent.
type LoadStat struct {
	Streams, InFlight       int64 // live streams; API requests being served, streams included
	Parked                  int64 // live streams parked on an event loop (no goroutine relays them)
	MaxStreams, MaxInFlight int64
}

// Breaker is an upstream's circuit breaker state.
type Breaker uint8

const (
	BreakerClosed   Breaker = iota // attempts flow
	BreakerHalfOpen                // one probe attempt is let through
	BreakerOpen                    // attempts skip this upstream
)

var breakerNames = [...]string{"closed", "half_open", "open"}

func (b Breaker) String() string {
	if int(b) < len(breakerNames) {
		return breakerNames[b]
	}
	return "closed"
}

// UpstreamStat is one upstream's live state.
type UpstreamStat struct {
	Name, Provider string
	Healthy        bool // breaker closed, not cooling after retry-after, credentials ready
	Breaker        Breaker
	InFlight       int64
	LatencyEWMA    time.Duration // whole answer
	TTFBEWMA       time.Duration // first byte
	ErrorRate      float64       // EWMA of failed attempts, 0..1
	Overloads      uint64        // attempts refused locally because the pool was full (not failures)
	// Renewals and Unrenewed count credentials the cloud refused on an
	// upstream whose credential can be renewed: renewed at once (the attempt
	// was repeated) or not (the refusal was final).
	Renewals, Unrenewed uint64
}

// PluginStat is one plugin's live state from the plugin host.
type PluginStat struct {
	Name, Module, Version string
	Healthy               bool   // false after repeated failures in a row
	Skipped               uint64 // calls skipped by on_error: open
	Rebuilds              uint64 // instance pools rebuilt after failures
	PoolSize, PoolIdle    int    // instances in the pool, of which idle
}

// CacheStat is the response cache's state and counters.
type CacheStat struct {
	Entries, Bytes, MaxBytes                         int64
	Hits, Misses, Coalesced, Sets, Rejected, Evicted uint64
}

type statsBox struct{ s Stats }

// SetStats sets (or, with nil, clears) the live-state source read at
// scrape time. The instance calls it once at start.
func (t *Telemetry) SetStats(s Stats) {
	if s == nil {
		t.stats.Store(nil)
		return
	}
	t.stats.Store(&statsBox{s})
}

var (
	dUpHealthy  = prometheus.NewDesc("switchyard_upstream_healthy", "1 when the upstream takes attempts: breaker closed, not cooling after retry-after, credentials ready.", []string{lUpstream, lProvider}, nil)
	dUpBreaker  = prometheus.NewDesc("switchyard_upstream_breaker_state", "The upstream's breaker: 1 for the current state, 0 for the others.", []string{lUpstream, "state"}, nil)
	dUpInFlight = prometheus.NewDesc("switchyard_upstream_in_flight", "Attempts in flight to the upstream.", []string{lUpstream}, nil)
	dUpLatency  = prometheus.NewDesc("switchyard_upstream_latency_ewma_seconds", "EWMA of the upstream's whole-answer latency.", []string{lUpstream}, nil)
	dUpTTFB     = prometheus.NewDesc("switchyard_upstream_ttfb_ewma_seconds", "EWMA of the upstream's time to first byte.", []string{lUpstream}, nil)
	dUpErrRate  = prometheus.NewDesc("switchyard_upstream_error_ratio", "EWMA of the upstream's failed attempts (0..1).", []string{lUpstream}, nil)
	dUpOverload = prometheus.NewDesc("switchyard_upstream_overloads_total", "Attempts refused by the router because the upstream's connection pool was full: a local overload, not the upstream's failure (no breaker or error-rate change).", []string{lUpstream}, nil)

	dLdStreams     = prometheus.NewDesc("switchyard_streams_live", "Streams being relayed now.", nil, nil)
	dLdParked      = prometheus.NewDesc("switchyard_streams_parked", "Live streams parked on an event loop: relayed without a goroutine of their own.", nil, nil)
	dLdInFlight    = prometheus.NewDesc("switchyard_requests_in_flight", "API requests being served now, live streams included.", nil, nil)
	dLdMaxStreams  = prometheus.NewDesc("switchyard_streams_max", "limits.max_streams: live streams beyond which new stream requests are answered 503 overloaded.", nil, nil)
	dLdMaxInFlight = prometheus.NewDesc("switchyard_requests_in_flight_max", "limits.max_in_flight: requests in flight beyond which new requests are answered 503 overloaded.", nil, nil)
	dUpRenewals    = prometheus.NewDesc("switchyard_upstream_credential_renewals_total", "Credentials the upstream refused, by whether a newer one was fetched at once and the attempt repeated (renewed) or not (unrenewed).", []string{lUpstream, "result"}, nil)

	dPlHealthy  = prometheus.NewDesc("switchyard_plugin_healthy", "0 after repeated plugin failures in a row.", []string{lPlugin, "module", "version"}, nil)
	dPlSkipped  = prometheus.NewDesc("switchyard_plugin_skipped_total", "Plugin calls skipped under on_error: open.", []string{lPlugin}, nil)
	dPlRebuilds = prometheus.NewDesc("switchyard_plugin_pool_rebuilds_total", "Plugin instance pools rebuilt after failures.", []string{lPlugin}, nil)
	dPlPool     = prometheus.NewDesc("switchyard_plugin_pool_instances", "Plugin instances in the pool, by state (idle, busy).", []string{lPlugin, "state"}, nil)

	dCaEntries   = prometheus.NewDesc("switchyard_cache_entries", "Entries held by the response cache.", nil, nil)
	dCaBytes     = prometheus.NewDesc("switchyard_cache_bytes", "Bytes held by the response cache.", nil, nil)
	dCaMaxBytes  = prometheus.NewDesc("switchyard_cache_max_bytes", "The response cache's capacity in bytes.", nil, nil)
	dCaHits      = prometheus.NewDesc("switchyard_cache_hits_total", "Lookups answered from the cache.", nil, nil)
	dCaMisses    = prometheus.NewDesc("switchyard_cache_misses_total", "Cacheable lookups the cache could not answer.", nil, nil)
	dCaCoalesced = prometheus.NewDesc("switchyard_cache_coalesced_total", "Waiters answered by another request's upstream call.", nil, nil)
	dCaSets      = prometheus.NewDesc("switchyard_cache_sets_total", "Answers stored.", nil, nil)
	dCaRejected  = prometheus.NewDesc("switchyard_cache_rejected_total", "Answers refused (too large, or by admission).", nil, nil)
	dCaEvicted   = prometheus.NewDesc("switchyard_cache_evictions_total", "Entries evicted for room, on expiry or by a purge.", nil, nil)
)

// liveCollector turns Stats into const metrics at scrape time.
type liveCollector struct{ t *Telemetry }

func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dUpHealthy, dUpBreaker, dUpInFlight, dUpLatency, dUpTTFB, dUpErrRate, dUpOverload, dUpRenewals,
		dLdStreams, dLdParked, dLdInFlight, dLdMaxStreams, dLdMaxInFlight,
		dPlHealthy, dPlSkipped, dPlRebuilds, dPlPool,
		dCaEntries, dCaBytes, dCaMaxBytes, dCaHits, dCaMisses, dCaCoalesced, dCaSets, dCaRejected, dCaEvicted} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	box := c.t.stats.Load()
	if box == nil {
		return
	}
	s := box.s
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	for _, u := range s.UpstreamStats(nil) {
		gauge(dUpHealthy, b2f(u.Healthy), u.Name, ProviderName(u.Provider))
		for b := BreakerClosed; b <= BreakerOpen; b++ {
			gauge(dUpBreaker, b2f(u.Breaker == b), u.Name, b.String())
		}
		gauge(dUpInFlight, float64(u.InFlight), u.Name)
		gauge(dUpLatency, u.LatencyEWMA.Seconds(), u.Name)
		gauge(dUpTTFB, u.TTFBEWMA.Seconds(), u.Name)
		gauge(dUpErrRate, u.ErrorRate, u.Name)
		counter(dUpOverload, u.Overloads, u.Name)
		counter(dUpRenewals, u.Renewals, u.Name, "renewed")
		counter(dUpRenewals, u.Unrenewed, u.Name, "unrenewed")
	}
	ld := s.LoadStats()
	gauge(dLdStreams, float64(ld.Streams))
	gauge(dLdParked, float64(ld.Parked))
	gauge(dLdInFlight, float64(ld.InFlight))
	if ld.MaxStreams > 0 {
		gauge(dLdMaxStreams, float64(ld.MaxStreams))
	}
	if ld.MaxInFlight > 0 {
		gauge(dLdMaxInFlight, float64(ld.MaxInFlight))
	}
	for _, p := range s.PluginStats(nil) {
		gauge(dPlHealthy, b2f(p.Healthy), p.Name, p.Module, p.Version)
		counter(dPlSkipped, p.Skipped, p.Name)
		counter(dPlRebuilds, p.Rebuilds, p.Name)
		gauge(dPlPool, float64(p.PoolIdle), p.Name, "idle")
		gauge(dPlPool, float64(p.PoolSize-p.PoolIdle), p.Name, "busy")
	}
	if cs, ok := s.CacheStats(); ok {
		gauge(dCaEntries, float64(cs.Entries))
		gauge(dCaBytes, float64(cs.Bytes))
		gauge(dCaMaxBytes, float64(cs.MaxBytes))
		counter(dCaHits, cs.Hits)
		counter(dCaMisses, cs.Misses)
		counter(dCaCoalesced, cs.Coalesced)
		counter(dCaSets, cs.Sets)
		counter(dCaRejected, cs.Rejected)
		counter(dCaEvicted, cs.Evicted)
	}
}
