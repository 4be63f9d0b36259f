package telemetry

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Bucket boundaries follow the OpenTelemetry GenAI semantic conventions'
// advice for each instrument, so dashboards built for them read ours.
var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	ttftBuckets     = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	pluginBuckets   = []float64{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1}
)

// Label names. GenAI families use the semantic conventions' attribute names
// (dots become underscores, as the OpenTelemetry→Prometheus mapping does);
// switchyard_* families use short names.
const (
	lEndpoint  = "endpoint"
	lTenant    = "tenant"
	lModel     = "model"
	lUpstream  = "upstream"
	lStatus    = "status"
	lCache     = "cache"
	lResult    = "result"
	lReason    = "reason"
	lType      = "type"
	lPlugin    = "plugin"
	lHook      = "hook"
	lProvider  = "provider"
	lOperation = "gen_ai_operation_name"
	lGenAIProv = "gen_ai_provider_name"
	lReqModel  = "gen_ai_request_model"
	lTokenType = "gen_ai_token_type"
)

// families are every hot-path metric family, registered once per process.
type families struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	ttft        *prometheus.HistogramVec
	tokenUsage  *prometheus.HistogramVec
	tokens      *prometheus.CounterVec
	cost        *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	attemptDur  *prometheus.HistogramVec
	fallbacks   *prometheus.CounterVec
	pluginCalls *prometheus.CounterVec
	pluginFails *prometheus.CounterVec
	pluginDur   *prometheus.HistogramVec
	overloads   *prometheus.CounterVec
}

func newFamilies() *families {
	genai := []string{lEndpoint, lTenant, lOperation, lGenAIProv, lReqModel, lUpstream}
	return &families{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_requests_total",
			Help: "Requests answered, by endpoint, tenant, public model, upstream that answered (none: no upstream), HTTP status and cache outcome.",
		}, []string{lEndpoint, lTenant, lModel, lUpstream, lStatus, lCache}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_request_duration_seconds",
			Help:    "Time from the request's arrival to its last byte (a stream's end), per upstream and model.",
			Buckets: durationBuckets,
		}, genai),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_server_time_to_first_token_seconds",
			Help:    "Time from the request's arrival to the first token sent to the client, for successful answers.",
			Buckets: ttftBuckets,
		}, genai),
		tokenUsage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_client_token_usage",
			Help:    "Tokens per request as reported by the upstream, by gen_ai_token_type (input, output).",
			Buckets: tokenBuckets,
		}, append(genai[:len(genai):len(genai)], lTokenType)),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_tokens_total",
			Help: "Tokens reported by upstreams, by type: input, output, cached (input served from the provider's prompt cache), reasoning (part of output).",
		}, []string{lEndpoint, lTenant, lModel, lUpstream, lType}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_cost_usd_total",
			Help: "Estimated cost in US dollars from the upstreams' configured prices and the reported usage.",
		}, []string{lEndpoint, lTenant, lModel, lUpstream}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_upstream_attempts_total",
			Help: "Attempts sent to an upstream, by result (ok, or why the attempt failed).",
		}, []string{lUpstream, lResult}),
		attemptDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gen_ai_client_operation_duration_seconds",
			Help:    "Duration of one upstream attempt, from sending the request to its answer (the first event for streams).",
			Buckets: durationBuckets,
		}, []string{lOperation, lGenAIProv, lReqModel, lUpstream}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_fallbacks_total",
			Help: "Requests moved from an upstream to the next candidate, by the upstream left and the reason.",
		}, []string{lUpstream, lReason}),
		pluginCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_plugin_calls_total",
			Help: "Plugin hook calls.",
		}, []string{lPlugin, lHook}),
		pluginFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_plugin_call_failures_total",
			Help: "Plugin hook calls that failed (trap, fuel or memory limit, bad result).",
		}, []string{lPlugin, lHook}),
		pluginDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchyard_plugin_call_duration_seconds",
			Help:    "Duration of one plugin hook call.",
			Buckets: pluginBuckets,
		}, []string{lPlugin, lHook}),
		overloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_overloads_total",
			Help: "Requests answered 503 overloaded by the router itself, by reason: pool (every candidate's connection pool full), pop_streams (limits.max_streams), pop_in_flight (limits.max_in_flight). Never an upstream failure.",
		}, []string{lReason}),
	}
}

func (f *families) collectors() []prometheus.Collector {
	return []prometheus.Collector{f.requests, f.duration, f.ttft, f.tokenUsage, f.tokens, f.cost,
		f.attempts, f.attemptDur, f.fallbacks, f.pluginCalls, f.pluginFails, f.pluginDur, f.overloads}
}

// Labels name one (endpoint, tenant, model, upstream) combination. Values
// are config names only. Upstream "" means no upstream answered (a cache
// hit, a refusal before routing, all attempts failed): it is exported as
// "none".
type Labels struct {
	// Endpoint is the API: "chat", "responses", "completions", "embeddings".
	Endpoint string
	// Tenant is the tenant's config name ("default" without tenants).
	Tenant string
	// Model is the public model name the client asked for, as configured.
	Model string
	// Upstream is the upstream's config name.
	Upstream string
	// Provider is the upstream's provider as configured (openai, azure,
	// bedrock, vertex); mapped to gen_ai_provider_name by ProviderName.
	Provider string
}

// Cache is a request's cache outcome (the x-switchyard-cache header).
type Cache uint8

const (
	CacheNone      Cache = iota // not cacheable, or caching off
	CacheHit                    // answered from the cache
	CacheMiss                   // cacheable, looked up, not found
	CacheBypass                 // the client asked to bypass or refresh
	CacheCoalesced              // answered by another request's upstream call
	numCache
)

var cacheNames = [numCache]string{"none", "hit", "miss", "bypass", "coalesced"}

func (c Cache) String() string {
	if c < numCache {
		return cacheNames[c]
	}
	return "none"
}

// Result is how one upstream attempt ended; also the reason of a fallback.
type Result uint8

const (
	ResultOK          Result = iota // answered (2xx)
	ResultRateLimited               // 429
	ResultServerError               // 5xx
	ResultClientError               // other 4xx (no fallback: the request itself is wrong)
	ResultTimeout                   // no answer within the deadline
	ResultConnection                // dial, TLS or reset before an answer
	ResultStreamError               // the stream failed before its first event
	ResultUnavailable               // skipped: breaker open, cooling after retry-after, or credentials not ready
	ResultCanceled                  // the client went away
	ResultOverloaded                // refused locally: the upstream's connection pool was full (not the cloud's failure)
	numResult
)

var resultNames = [numResult]string{"ok", "rate_limited", "server_error", "client_error", "timeout", "connection", "stream_error", "unavailable", "canceled", "overloaded"}

func (r Result) String() string {
	if r < numResult {
		return resultNames[r]
	}
	return "unknown"
}

// ResultForStatus maps an upstream's HTTP status to a Result.
func ResultForStatus(status int) Result {
	switch {
	case status < 400:
		return ResultOK
	case status == 429:
		return ResultRateLimited
	case status >= 500:
		return ResultServerError
	default:
		return ResultClientError
	}
}

// statusSlots are the statuses that get their own label value; any other
// is exported by class ("2xx" … "5xx"). Why a fixed table? A request must
// find its counter without building a string or looking up a map; the
// table's index is a switch away.
var statusSlots = [...]string{"200", "400", "401", "403", "404", "405", "408", "409", "413", "415", "422", "429", "499",
	"500", "501", "502", "503", "504", "1xx", "2xx", "3xx", "4xx", "5xx"}

const numStatus = len(statusSlots)

func statusIndex(s int) int {
	switch s {
	case 200:
		return 0
	case 400:
		return 1
	case 401:
		return 2
	case 403:
		return 3
	case 404:
		return 4
	case 405:
		return 5
	case 408:
		return 6
	case 409:
		return 7
	case 413:
		return 8
	case 415:
		return 9
	case 422:
		return 10
	case 429:
		return 11
	case 499:
		return 12
	case 500:
		return 13
	case 501:
		return 14
	case 502:
		return 15
	case 503:
		return 16
	case 504:
		return 17
	}
	switch {
	case s < 200:
		return 18
	case s < 300:
		return 19
	case s < 400:
		return 20
	case s < 500:
		return 21
	default:
		return 22
	}
}

// statusIsError reports whether a status slot counts as an error on the
// dashboard: the router or an upstream failed (5xx), not the client.
func statusIsError(i int) bool { return i >= 13 && i <= 17 || i == 22 }

// Usage is one answer's token usage and estimated cost.
type Usage struct {
	Input, Output     int64   // prompt and completion tokens as the upstream reported them
	Cached, Reasoning int64   // of which: input from the provider's prompt cache; output spent reasoning
	CostUSD           float64 // estimated from the upstream's price table; 0 when unknown
}

// Outcome is what the core knows when a request ends. Pass it by pointer
// from a stack or pooled value: Record keeps nothing.
type Outcome struct {
	Status   int           // HTTP status sent to the client
	Cache    Cache         // cache outcome
	Duration time.Duration // arrival to last byte (stream start for streams)
	TTFT     time.Duration // arrival to first token; 0 = not measured (errors, embeddings)
	Usage    Usage
}

type counterBox struct{ c prometheus.Counter }

// Handles are the resolved metric children of one Labels combination. The
// core builds them once per generation (Telemetry.Handles) and keeps them in
// its tables; the methods allocate nothing. Safe for concurrent use.
// Telemetry returns the same *Handles for the same Labels for the life of
// the process, so counters continue across reloads.
type Handles struct {
	t      *Telemetry
	labels Labels
	// requests is filled lazily: most (status, cache) pairs never happen,
	// and a series that is always 0 costs every scrape. The first request
	// of a pair resolves its child (allocating once); later ones load a
	// pointer.
	requests [numStatus][numCache]atomic.Pointer[counterBox]

	duration, ttft prometheus.Observer
	input, output  prometheus.Observer // gen_ai_client_token_usage
	tokInput       prometheus.Counter
	tokOutput      prometheus.Counter
	tokCached      prometheus.Counter
	tokReasoning   prometheus.Counter
	cost           prometheus.Counter
	attemptDur     prometheus.Observer
	attempts       [numResult]prometheus.Counter
	fallbacks      [numResult]prometheus.Counter
}

// Handles returns the handles of l, building them on first use. Call it
// when a generation is built, not per request (it takes a lock and may
// allocate).
func (t *Telemetry) Handles(l Labels) *Handles {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.handles[l]; h != nil {
		return h
	}
	up := l.Upstream
	if up == "" {
		up = "none"
	}
	op, prov := OperationName(l.Endpoint), ProviderName(l.Provider)
	g := []string{l.Endpoint, l.Tenant, op, prov, l.Model, up}
	m := t.m
	h := &Handles{
		t:            t,
		labels:       l,
		duration:     m.duration.WithLabelValues(g...),
		ttft:         m.ttft.WithLabelValues(g...),
		input:        m.tokenUsage.WithLabelValues(append(g, "input")...),
		output:       m.tokenUsage.WithLabelValues(append(g, "output")...),
		tokInput:     m.tokens.WithLabelValues(l.Endpoint, l.Tenant, l.Model, up, "input"),
		tokOutput:    m.tokens.WithLabelValues(l.Endpoint, l.Tenant, l.Model, up, "output"),
		tokCached:    m.tokens.WithLabelValues(l.Endpoint, l.Tenant, l.Model, up, "cached"),
		tokReasoning: m.tokens.WithLabelValues(l.Endpoint, l.Tenant, l.Model, up, "reasoning"),
		cost:         m.cost.WithLabelValues(l.Endpoint, l.Tenant, l.Model, up),
	}
	if l.Upstream != "" {
		h.attemptDur = m.attemptDur.WithLabelValues(op, prov, l.Model, up)
		for r := Result(0); r < numResult; r++ {
			h.attempts[r] = m.attempts.WithLabelValues(up, r.String())
			if r != ResultOK {
				h.fallbacks[r] = m.fallbacks.WithLabelValues(up, r.String())
			}
		}
	}
	t.handles[l] = h
	t.order = append(t.order, h)
	return h
}

// Labels returns the combination the handles count for.
func (h *Handles) Labels() Labels { return h.labels }

func (h *Handles) request(status int, c Cache) prometheus.Counter {
	if c >= numCache {
		c = CacheNone
	}
	slot := &h.requests[statusIndex(status)][c]
	if b := slot.Load(); b != nil {
		return b.c
	}
	up := h.labels.Upstream
	if up == "" {
		up = "none"
	}
	b := &counterBox{h.t.m.requests.WithLabelValues(h.labels.Endpoint, h.labels.Tenant, h.labels.Model, up,
		statusSlots[statusIndex(status)], c.String())}
	if !slot.CompareAndSwap(nil, b) {
		b = slot.Load()
	}
	return b.c
}

// Record counts one finished request: the request counter, its duration,
// its time to first token (when o.TTFT > 0) and its usage. It allocates
// nothing once the (status, cache) pair has been seen.
func (h *Handles) Record(o *Outcome) {
	h.request(o.Status, o.Cache).Inc()
	h.duration.Observe(o.Duration.Seconds())
	if o.TTFT > 0 {
		h.ttft.Observe(o.TTFT.Seconds())
	}
	h.AddUsage(o.Usage)
}

// AddUsage adds token usage and cost. Record calls it; call it alone for a
// stream whose usage arrives after the request was recorded.
func (h *Handles) AddUsage(u Usage) {
	if u.Input > 0 {
		h.input.Observe(float64(u.Input))
		h.tokInput.Add(float64(u.Input))
	}
	if u.Output > 0 {
		h.output.Observe(float64(u.Output))
		h.tokOutput.Add(float64(u.Output))
	}
	if u.Cached > 0 {
		h.tokCached.Add(float64(u.Cached))
	}
	if u.Reasoning > 0 {
		h.tokReasoning.Add(float64(u.Reasoning))
	}
	if u.CostUSD > 0 {
		h.cost.Add(u.CostUSD)
	}
}

// Attempt counts one attempt on the handles' upstream and its duration (to
// the answer, or to the first event of a stream). No-op for handles without
// an upstream.
func (h *Handles) Attempt(r Result, d time.Duration) {
	if h.attemptDur == nil || r >= numResult {
		return
	}
	h.attempts[r].Inc()
	if r != ResultUnavailable && r != ResultOverloaded { // neither reached the cloud
		h.attemptDur.Observe(d.Seconds())
	}
}

// Fallback counts a move from the handles' upstream to the next candidate,
// by reason. No-op for ResultOK or handles without an upstream.
func (h *Handles) Fallback(reason Result) {
	if h.attemptDur == nil || reason == ResultOK || reason >= numResult {
		return
	}
	h.fallbacks[reason].Inc()
}

// OverloadReason is why the router answered a request 503 overloaded itself.
type OverloadReason uint8

const (
	OverloadPool     OverloadReason = iota // every candidate's connection pool was full
	OverloadStreams                        // limits.max_streams reached
	OverloadInFlight                       // limits.max_in_flight reached
	numOverload
)

var overloadNames = [numOverload]string{"pool", "pop_streams", "pop_in_flight"}

func (r OverloadReason) String() string {
	if r < numOverload {
		return overloadNames[r]
	}
	return "unknown"
}

// Overload counts one local overload answer. It allocates nothing (the
// children are resolved in New): an overload storm must not add garbage.
func (t *Telemetry) Overload(r OverloadReason) {
	if r < numOverload {
		t.overloads[r].Inc()
	}
}

// PluginHandles count the calls of one plugin hook. Safe for concurrent use;
// Call allocates nothing.
type PluginHandles struct {
	calls, failures prometheus.Counter
	duration        prometheus.Observer
}

// Plugin returns the handles of a plugin's hook ("route", "redact"),
// building them on first use; the same pointer for the life of the process.
func (t *Telemetry) Plugin(name, hook string) *PluginHandles {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := [2]string{name, hook}
	if p := t.plugins[k]; p != nil {
		return p
	}
	p := &PluginHandles{
		calls:    t.m.pluginCalls.WithLabelValues(name, hook),
		failures: t.m.pluginFails.WithLabelValues(name, hook),
		duration: t.m.pluginDur.WithLabelValues(name, hook),
	}
	t.plugins[k] = p
	return p
}

// PluginCounts sums a plugin's calls and failures over its hooks, for the
// admin API's plugin list.
func (t *Telemetry) PluginCounts(name string) (calls, failures uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var m dto.Metric
	for k, p := range t.plugins {
		if k[0] != name {
			continue
		}
		m.Reset()
		_ = p.calls.Write(&m)
		calls += uint64(m.GetCounter().GetValue())
		m.Reset()
		_ = p.failures.Write(&m)
		failures += uint64(m.GetCounter().GetValue())
	}
	return calls, failures
}

// Call counts one hook call, its duration and whether it failed.
func (p *PluginHandles) Call(d time.Duration, failed bool) {
	p.calls.Inc()
	if failed {
		p.failures.Inc()
	}
	p.duration.Observe(d.Seconds())
}

// OperationName maps an endpoint to gen_ai.operation.name. Why "chat" for
// Responses? The conventions have no Responses operation; a Responses call
// is a chat turn, and the endpoint label keeps the two apart.
func OperationName(endpoint string) string {
	switch endpoint {
	case "chat", "responses":
		return "chat"
	case "completions":
		return "text_completion"
	case "embeddings":
		return "embeddings"
	case "":
		return "unknown"
	}
	return endpoint
}

// ProviderName maps a configured provider to gen_ai.provider.name's
// well-known values.
func ProviderName(provider string) string {
	switch provider {
	case "openai":
		return "openai"
	case "azure":
		return "azure.ai.openai"
	case "bedrock":
		return "aws.bedrock"
	case "vertex":
		return "gcp.vertex_ai"
	case "":
		return "none"
	}
	return provider
}

// statusLabel is the exported label of a status (tests).
func statusLabel(s int) string { return statusSlots[statusIndex(s)] }
