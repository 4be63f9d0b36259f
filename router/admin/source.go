package admin

import "time"

// Source is the one interface the router core implements for the admin
// API: plain-struct snapshots of its live state, a cache purge and the
// masked running config. Every method is called from admin requests or
// the sampler (every SampleInterval), never per client request, and may be
// called concurrently. dst may be reused: append to it.
type Source interface {
	// Upstreams appends every upstream's live state.
	Upstreams(dst []Upstream) []Upstream
	// Plugins appends every loaded plugin's state.
	Plugins(dst []Plugin) []Plugin
	// Cache reports the response cache; false when caching is off.
	Cache() (CacheStats, bool)
	// PurgeCache drops entries of tenant and model ("" = any); ErrCacheOff
	// when there is no cache.
	PurgeCache(tenant, model string) error
	// Config returns the running config with every secret masked, as JSON
	// or YAML, and its content type ("application/json",
	// "application/yaml"). The admin API serves it as is.
	Config() (body []byte, contentType string)
	// Traffic appends the cumulative traffic counters, one row per
	// (endpoint, tenant, model, upstream). telemetry.Telemetry's
	// AppendTraffic answers it: convert each row with admin.Traffic(row).
	Traffic(dst []Traffic) []Traffic
}

// Upstream is one upstream's live state.
type Upstream struct {
	Name      string  `json:"name"`
	Provider  string  `json:"provider"`
	Region    string  `json:"region,omitempty"`
	Healthy   bool    `json:"healthy"`
	Breaker   string  `json:"breaker"` // closed, half_open, open
	InFlight  int64   `json:"in_flight"`
	LatencyMS float64 `json:"latency_ms"` // EWMA, whole answer
	TTFBMS    float64 `json:"ttfb_ms"`    // EWMA, first byte
	ErrorRate float64 `json:"error_rate"` // EWMA of failed attempts, 0..1
	Requests  uint64  `json:"requests"`   // attempts since the process started
	Errors    uint64  `json:"errors"`     // failed attempts
}

// Plugin is one plugin's state.
type Plugin struct {
	Name     string   `json:"name"`
	Kinds    []string `json:"kinds"`  // route, redact
	Module   string   `json:"module"` // content hash of the Wasm module
	Version  string   `json:"version,omitempty"`
	Healthy  bool     `json:"healthy"`
	Calls    uint64   `json:"calls"`
	Failures uint64   `json:"failures"`
	Skipped  uint64   `json:"skipped"` // skipped under on_error: open
	Rebuilds uint64   `json:"pool_rebuilds"`
	PoolSize int      `json:"pool_size"`
	PoolIdle int      `json:"pool_idle"`
}

// CacheStats is the response cache's state.
type CacheStats struct {
	Entries   int64  `json:"entries"`
	Bytes     int64  `json:"bytes"`
	MaxBytes  int64  `json:"max_bytes"`
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Coalesced uint64 `json:"coalesced"`
	Sets      uint64 `json:"sets"`
	Evictions uint64 `json:"evictions"`
}

// HitRatio is hits (coalesced waiters included) over lookups; 0 before
// the first lookup.
func (c CacheStats) HitRatio() float64 {
	n := c.Hits + c.Coalesced + c.Misses
	if n == 0 {
		return 0
	}
	return float64(c.Hits+c.Coalesced) / float64(n)
}

// Traffic is the cumulative traffic of one (endpoint, tenant, model,
// upstream). Its fields match telemetry.Traffic one for one (a plain
// conversion turns one into the other); keep them in step.
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

// Tenant is one tenant as the KeyStore knows it.
type Tenant struct {
	Name string `json:"name"`
	Keys int    `json:"keys"` // active keys
}

// Key describes one virtual key. It never holds the secret: the secret is
// returned once, by CreateKey and RotateKey.
type Key struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Name      string     `json:"name,omitempty"`
	Prefix    string     `json:"prefix,omitempty"` // first characters of the secret, to recognise it
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Revoked   bool       `json:"revoked"`
	Models    []string   `json:"models,omitempty"`    // allowed public models; empty = all
	Endpoints []string   `json:"endpoints,omitempty"` // allowed endpoints; empty = all
}

// KeySpec is what POST /admin/keys asks for.
type KeySpec struct {
	Tenant    string     `json:"tenant"`
	Name      string     `json:"name,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Models    []string   `json:"models,omitempty"`
	Endpoints []string   `json:"endpoints,omitempty"`
}

// KeyStore manages tenants' virtual keys; router/limits implements it and
// persists keys hashed. Errors: ErrNotFound (unknown tenant or key id) →
// 404, ErrInvalid (a bad spec) → 400, anything else → 500. Safe for
// concurrent use.
type KeyStore interface {
	// Tenants lists every tenant.
	Tenants() ([]Tenant, error)
	// Keys lists the keys of tenant ("" = every tenant), revoked included.
	Keys(tenant string) ([]Key, error)
	// CreateKey makes a key and returns it with its secret, the only time
	// the secret is seen.
	CreateKey(spec KeySpec) (Key, string, error)
	// RevokeKey stops a key at once.
	RevokeKey(id string) error
	// RotateKey replaces a key's secret (same id, limits and budgets) and
	// returns the new secret once.
	RotateKey(id string) (Key, string, error)
}
