package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ErrBadEndpoint is returned by New for a tracing endpoint that is not an
// http(s) URL with a host.
var ErrBadEndpoint = errors.New("telemetry: tracing endpoint must be an http:// or https:// URL")

// TracingConfig configures span export over OTLP/HTTP (protobuf). The zero
// value is off: the tracer is a no-op and every Start* returns a Span that
// costs nothing.
type TracingConfig struct {
	// Endpoint is the collector's OTLP/HTTP traces URL, e.g.
	// "http://127.0.0.1:4318/v1/traces". A URL without a path gets
	// "/v1/traces". http:// is sent in clear (a collector on loopback or a
	// sidecar); https:// uses the system roots. Empty = tracing off.
	Endpoint string
	// Headers are sent with every export (e.g. a collector's auth token:
	// a secret, masked by the config dump).
	Headers map[string]string
	// SampleRatio is the fraction of new traces recorded, (0,1]; 0 means 1.
	// A client's traceparent decides for its own trace (parent-based).
	SampleRatio float64
	// BatchTimeout is the longest a finished span waits before export.
	// Default 5s.
	BatchTimeout time.Duration
	// ExportTimeout bounds one export request. Default 10s.
	ExportTimeout time.Duration
}

// tracerName is the instrumentation scope of every span.
const tracerName = "github.com/switchyard-dev/switchyard/router/telemetry"

// propagator reads and writes W3C traceparent and tracestate.
var propagator = propagation.TraceContext{}

func (t *Telemetry) startTracing(cfg Config) error {
	tc := cfg.Tracing
	if tc.Endpoint == "" {
		return nil
	}
	u, err := url.Parse(tc.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %q", ErrBadEndpoint, tc.Endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}
	if len(tc.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(tc.Headers))
	}
	if tc.ExportTimeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(tc.ExportTimeout))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = "switchyard"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.PoP != "" {
		attrs = append(attrs, attribute.String("switchyard.pop", cfg.PoP))
	}
	ratio := tc.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	var bopts []sdktrace.BatchSpanProcessorOption
	if tc.BatchTimeout > 0 {
		bopts = append(bopts, sdktrace.WithBatchTimeout(tc.BatchTimeout))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, bopts...),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	t.tracer = tp.Tracer(tracerName)
	t.tracing = true
	t.shutdown = tp.Shutdown
	return nil
}

// Tracing reports whether spans are exported.
func (t *Telemetry) Tracing() bool { return t.tracing }

// Span is one request's, attempt's or plugin call's span. The zero value
// (tracing off) is valid and every method on it is a no-op that allocates
// nothing. A Span is used by one goroutine at a time.
type Span struct{ s trace.Span }

// Recording reports whether the span records: check it before building
// anything only a span needs.
func (s Span) Recording() bool { return s.s != nil && s.s.IsRecording() }

// headerCarrier adapts a fasthttp request header to OpenTelemetry's
// TextMapCarrier.
type headerCarrier struct{ h *fasthttp.RequestHeader }

func (c headerCarrier) Get(key string) string { return string(c.h.Peek(key)) }
func (c headerCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c headerCarrier) Keys() []string {
	// The propagator asks only for its own fields (traceparent, tracestate)
	// by name; Keys is for carriers iterated by baggage-like propagators.
	return propagator.Fields()
}

// StartRequest starts the request's server span, continuing the client's
// trace when its header carries a valid traceparent. endpoint and model are
// config names (the public model the client asked for). With tracing off it
// returns parent and a no-op Span without reading the header.
func (t *Telemetry) StartRequest(parent context.Context, h *fasthttp.RequestHeader, endpoint, tenant, model string) (context.Context, Span) {
	if !t.tracing {
		return parent, Span{}
	}
	ctx := parent
	if h != nil {
		ctx = propagator.Extract(parent, headerCarrier{h})
	}
	op := OperationName(endpoint)
	ctx, sp := t.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindServer))
	if sp.IsRecording() {
		sp.SetName(op + " " + model)
		sp.SetAttributes(
			attribute.String("gen_ai.operation.name", op),
			attribute.String("gen_ai.request.model", model),
			attribute.String("switchyard.endpoint", endpoint),
			attribute.String("switchyard.tenant", tenant),
		)
	}
	return ctx, Span{sp}
}

// StartAttempt starts a client span for one upstream attempt under the
// request span in ctx. upstreamModel is the id sent to the upstream.
// attempt counts from 1. Inject the returned context into the upstream
// request's header.
func (t *Telemetry) StartAttempt(ctx context.Context, endpoint, upstream, provider, upstreamModel string, attempt int) (context.Context, Span) {
	if !t.tracing {
		return ctx, Span{}
	}
	op := OperationName(endpoint)
	ctx, sp := t.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient))
	if sp.IsRecording() {
		sp.SetName(op + " " + upstreamModel)
		sp.SetAttributes(
			attribute.String("gen_ai.operation.name", op),
			attribute.String("gen_ai.provider.name", ProviderName(provider)),
			attribute.String("gen_ai.request.model", upstreamModel),
			attribute.String("switchyard.upstream", upstream),
			attribute.Int("switchyard.attempt", attempt),
		)
	}
	return ctx, Span{sp}
}

// Inject writes the W3C traceparent (and tracestate) of the span in ctx
// into h, the upstream request's header. No-op with tracing off. Why not
// forward the client's header as is? The upstream's parent must be the
// attempt span, so a trace shows which attempt the cloud answered.
func (t *Telemetry) Inject(ctx context.Context, h *fasthttp.RequestHeader) {
	if !t.tracing {
		return
	}
	propagator.Inject(ctx, headerCarrier{h})
}

// StartPlugin starts an internal span for one plugin hook call under the
// span in ctx.
func (t *Telemetry) StartPlugin(ctx context.Context, plugin, hook string) Span {
	if !t.tracing {
		return Span{}
	}
	_, sp := t.tracer.Start(ctx, hook, trace.WithSpanKind(trace.SpanKindInternal))
	if sp.IsRecording() {
		sp.SetName("plugin " + hook + " " + plugin)
		sp.SetAttributes(attribute.String("switchyard.plugin", plugin), attribute.String("switchyard.plugin.hook", hook))
	}
	return Span{sp}
}

// SetResponse records the model that answered and the finish reasons
// (never content).
func (s Span) SetResponse(responseModel string, finishReasons []string) {
	if !s.Recording() {
		return
	}
	if responseModel != "" {
		s.s.SetAttributes(attribute.String("gen_ai.response.model", responseModel))
	}
	if len(finishReasons) > 0 {
		s.s.SetAttributes(attribute.StringSlice("gen_ai.response.finish_reasons", finishReasons))
	}
}

// SetUpstream records, on the request span, the upstream that answered.
func (s Span) SetUpstream(upstream, provider string) {
	if !s.Recording() {
		return
	}
	s.s.SetAttributes(attribute.String("switchyard.upstream", upstream), attribute.String("gen_ai.provider.name", ProviderName(provider)))
}

// SetUsage records token usage (and the estimated cost).
func (s Span) SetUsage(u Usage) {
	if !s.Recording() {
		return
	}
	s.s.SetAttributes(
		attribute.Int64("gen_ai.usage.input_tokens", u.Input),
		attribute.Int64("gen_ai.usage.output_tokens", u.Output),
	)
	if u.Cached > 0 {
		s.s.SetAttributes(attribute.Int64("gen_ai.usage.cache_read.input_tokens", u.Cached))
	}
	if u.Reasoning > 0 {
		s.s.SetAttributes(attribute.Int64("switchyard.usage.reasoning_tokens", u.Reasoning))
	}
	if u.CostUSD > 0 {
		s.s.SetAttributes(attribute.Float64("switchyard.cost_usd", u.CostUSD))
	}
}

// SetTTFT records the time to the first chunk, in seconds.
func (s Span) SetTTFT(d time.Duration) {
	if !s.Recording() || d <= 0 {
		return
	}
	s.s.SetAttributes(attribute.Float64("gen_ai.response.time_to_first_chunk", d.Seconds()))
}

// SetCache records the request's cache outcome.
func (s Span) SetCache(c Cache) {
	if !s.Recording() {
		return
	}
	s.s.SetAttributes(attribute.String("switchyard.cache", c.String()))
}

// End ends the span with the HTTP status it produced (0 = none, e.g. a
// plugin call) and errType, a short error class such as "timeout" or
// "rate_limited" (empty = success). The span is marked failed when errType
// is set or the status is 5xx.
func (s Span) End(status int, errType string) {
	if s.s == nil {
		return
	}
	if s.s.IsRecording() {
		if status > 0 {
			s.s.SetAttributes(attribute.Int("http.response.status_code", status))
		}
		if errType == "" && status >= 500 {
			errType = "http_" + fmt.Sprint(status)
		}
		if errType != "" {
			s.s.SetAttributes(attribute.String("error.type", errType))
			s.s.SetStatus(codes.Error, errType)
		}
	}
	s.s.End()
}

// EndAttempt ends an attempt span with its Result (the error class is the
// result's name).
func (s Span) EndAttempt(status int, r Result) {
	if r == ResultOK {
		s.End(status, "")
		return
	}
	s.End(status, r.String())
}
