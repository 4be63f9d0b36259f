package router

import (
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// metrics are the instance's counters, exposed at /metrics in Prometheus'
// text format; they survive config reloads. Labels never carry prompts,
// completions, keys or model output.
type metrics struct {
	served       atomic.Uint64 // answers relayed completely
	failed       atomic.Uint64 // requests answered with an upstream error
	streamErrors atomic.Uint64 // streams that ended with an error event
}

// writeMetrics answers /metrics: the instance's counters, the upstreams' live
// statistics (as this generation names them), the cache and the plugins.
func (g *Generation) writeMetrics(ctx *fasthttp.RequestCtx) {
	m := &g.in.metrics
	ctx.SetContentType("text/plain; version=0.0.4")
	b := make([]byte, 0, 2048)
	counter := func(name, help string, v uint64) {
		b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" counter\n"+name+" "...)
		b = strconv.AppendUint(b, v, 10)
		b = append(b, '\n')
	}
	counter("switchyard_requests_served_total", "Requests answered by an upstream.", m.served.Load())
	counter("switchyard_requests_failed_total", "Requests answered with an upstream error after all attempts.", m.failed.Load())
	counter("switchyard_stream_errors_total", "Streams ended by an upstream failure after the first byte.", m.streamErrors.Load())
	b = append(b, "# HELP switchyard_upstream_requests_total Attempts sent to each upstream.\n# TYPE switchyard_upstream_requests_total counter\n"...)
	for _, u := range g.ups.All {
		st := u.Stats.Snapshot()
		b = append(b, `switchyard_upstream_requests_total{upstream="`+u.Name+`"} `...)
		b = strconv.AppendUint(b, st.Requests, 10)
		b = append(b, '\n')
	}
	b = append(b, "# HELP switchyard_upstream_errors_total Failed attempts per upstream.\n# TYPE switchyard_upstream_errors_total counter\n"...)
	for _, u := range g.ups.All {
		b = append(b, `switchyard_upstream_errors_total{upstream="`+u.Name+`"} `...)
		b = strconv.AppendUint(b, u.Stats.Snapshot().Errors, 10)
		b = append(b, '\n')
	}
	b = append(b, "# HELP switchyard_upstream_healthy Whether the upstream's breaker is closed.\n# TYPE switchyard_upstream_healthy gauge\n"...)
	for _, u := range g.ups.All {
		v := "0"
		if !u.Stats.Snapshot().BreakerOpen {
			v = "1"
		}
		b = append(b, `switchyard_upstream_healthy{upstream="`+u.Name+`"} `+v+"\n"...)
	}
	b = append(b, "# HELP switchyard_upstream_latency_seconds EWMA of whole-answer latency.\n# TYPE switchyard_upstream_latency_seconds gauge\n"...)
	for _, u := range g.ups.All {
		b = append(b, `switchyard_upstream_latency_seconds{upstream="`+u.Name+`"} `...)
		b = strconv.AppendFloat(b, u.Stats.Snapshot().LatencyUS/1e6, 'g', 6, 64)
		b = append(b, '\n')
	}
	if g.cache != nil {
		st := g.cache.Stats()
		counter("switchyard_cache_hits_total", "Requests answered from the cache.", st.Hits)
		counter("switchyard_cache_misses_total", "Cacheable requests the cache could not answer.", st.Misses)
		counter("switchyard_cache_coalesced_total", "Requests answered by another request's upstream call.", st.Coalesced)
		counter("switchyard_cache_sets_total", "Answers stored.", st.Sets)
		counter("switchyard_cache_rejected_total", "Answers refused (too large, or by admission).", st.Rejected)
		counter("switchyard_cache_evictions_total", "Entries evicted for room or on expiry.", st.Evictions)
		b = append(b, "# HELP switchyard_cache_bytes Bytes held by the cache.\n# TYPE switchyard_cache_bytes gauge\nswitchyard_cache_bytes "...)
		b = strconv.AppendInt(b, st.Bytes, 10)
		b = append(b, '\n')
	}
	if p := g.in.wiring.Plugins; p != nil {
		b = p.AppendMetrics(b)
	}
	ctx.SetBody(b)
}
