// Package telemetry is Switchyard's metrics and tracing: one Prometheus
// registry per process (client_golang) and, when configured, an
// OpenTelemetry tracer exporting over OTLP/HTTP.
//
// Lifetimes: a Telemetry lives as long as the process (the router's
// Instance owns it), so counters survive config reloads. A generation
// resolves its labelled children once, at build time, through Handles,
// PluginHandles and friends; a request then only increments pointers and
// allocates nothing (see alloc_test.go). Label values are config names only
// (endpoint, tenant, model, upstream, plugin): never a prompt, a completion
// or a key.
package telemetry

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"go.opentelemetry.io/otel/trace"
)

// Config configures telemetry. The zero value is the default: metrics on,
// tracing off (a no-op tracer that costs nothing per request).
type Config struct {
	// ServiceName is the OpenTelemetry service.name resource attribute.
	// Default "switchyard".
	ServiceName string
	// PoP names this point of presence (resource attribute
	// switchyard.pop); optional.
	PoP string
	// Tracing configures span export; off unless Tracing.Endpoint is set.
	Tracing TracingConfig
	// NoProcessMetrics leaves out the Go runtime and process collectors
	// (go_*, process_*). Default false: they are registered.
	NoProcessMetrics bool
}

// Telemetry is the process-wide metrics registry and tracer. Build it once
// with New; Close flushes spans. Safe for concurrent use.
type Telemetry struct {
	reg       *prometheus.Registry
	m         *families
	overloads [numOverload]prometheus.Counter // resolved children of m.overloads

	stats atomic.Pointer[statsBox]

	mu      sync.Mutex
	handles map[Labels]*Handles
	plugins map[[2]string]*PluginHandles
	order   []*Handles // creation order, for Traffic

	tracer   trace.Tracer
	tracing  bool
	shutdown func(context.Context) error
	closed   atomic.Bool
	handler  fasthttp.RequestHandler
}

// New builds the registry (every family registered once) and, when
// cfg.Tracing.Endpoint is set, the OTLP/HTTP exporter and tracer provider.
// It does not change cfg.
func New(cfg Config) (*Telemetry, error) {
	t := &Telemetry{
		reg:     prometheus.NewRegistry(),
		handles: map[Labels]*Handles{},
		plugins: map[[2]string]*PluginHandles{},
	}
	t.m = newFamilies()
	for r := range numOverload {
		t.overloads[r] = t.m.overloads.WithLabelValues(r.String())
	}
	for _, c := range t.m.collectors() {
		if err := t.reg.Register(c); err != nil {
			return nil, err
		}
	}
	if err := t.reg.Register(&liveCollector{t: t}); err != nil {
		return nil, err
	}
	if !cfg.NoProcessMetrics {
		t.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if err := t.startTracing(cfg); err != nil {
		return nil, err
	}
	t.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return t, nil
}

// Registry is the process's registry (never prometheus.DefaultRegisterer):
// other process-lifetime parts may register their own collectors on it.
func (t *Telemetry) Registry() *prometheus.Registry { return t.reg }

// MetricsHandler serves the registry in Prometheus' exposition format
// (text 0.0.4 unless the scraper negotiates another). Mount it at /metrics.
func (t *Telemetry) MetricsHandler() fasthttp.RequestHandler { return t.handler }

// Close flushes and stops the span exporter (bounded by ctx). Metrics stay
// readable. Safe to call twice.
func (t *Telemetry) Close(ctx context.Context) error {
	if !t.closed.CompareAndSwap(false, true) {
		return nil
	}
	if t.shutdown != nil {
		return t.shutdown(ctx)
	}
	return nil
}
