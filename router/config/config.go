// Package config defines Switchyard's configuration and loads it with koanf:
// defaults, then a YAML file, then SWITCHYARD_* environment variables, then flags.
//
// The types here are the whole schema: a flat, documented struct whose zero
// values mean "use the default". Load fills defaults and validates once; a
// config that does not validate is refused with every problem listed.
package config

import (
	"time"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// Config is the whole configuration of one Switchyard process.
type Config struct {
	// Listen is the address the client-facing server binds. Default 127.0.0.1:8080.
	Listen string `koanf:"listen"`
	// PoP names this point of presence; routing plugins see it.
	PoP PoP `koanf:"pop"`
	// Limits bound what one client connection or request may cost.
	Limits Limits `koanf:"limits"`
	// Tenants maps client keys to tenants. Empty: one "default" tenant and no client auth.
	Tenants []Tenant `koanf:"tenants"`
	// Upstreams are the clouds requests are forwarded to, in default order.
	Upstreams []Upstream `koanf:"upstreams"`
	// UpstreamPool holds the connection-pool settings shared by every upstream.
	UpstreamPool UpstreamPool `koanf:"upstream_pool"`
	// Plugins are the Wasm (or native) plugins, applied in this order.
	Plugins []Plugin `koanf:"plugins"`
	// Responses configures the Responses API on chat-only upstreams.
	Responses Responses `koanf:"responses"`
	// Cache configures the response cache for deterministic completions.
	Cache Cache `koanf:"cache"`
	// Admin configures the admin API and dashboard on their own listener.
	Admin Admin `koanf:"admin"`
	// Telemetry configures metrics and tracing (docs/operations.md).
	Telemetry Telemetry `koanf:"telemetry"`
	// Keys configures managed virtual keys (docs/limits.md).
	Keys Keys `koanf:"keys"`
	// Log configures logging. Prompts, completions and keys are never logged.
	Log Log `koanf:"log"`
	// Pprof, when set, serves net/http/pprof on this address (off by default).
	Pprof string `koanf:"pprof"`
}

// PoP identifies the point of presence this process runs in.
type PoP struct {
	Name   string `koanf:"name"`   // e.g. "fra1"
	Region string `koanf:"region"` // e.g. "eu-central"
}

// Limits are the server's protective limits. Zero means the default.
type Limits struct {
	MaxBodyBytes   ByteSize      `koanf:"max_body_bytes"`   // default 4MiB; larger bodies get 413
	MaxHeaderBytes ByteSize      `koanf:"max_header_bytes"` // default 16KiB
	ReadTimeout    time.Duration `koanf:"read_timeout"`     // whole request read; default 30s
	WriteTimeout   time.Duration `koanf:"write_timeout"`    // per write to the client; default 60s
	IdleTimeout    time.Duration `koanf:"idle_timeout"`     // keep-alive idle; default 120s
	RequestTimeout time.Duration `koanf:"request_timeout"`  // deadline of one request end to end; default 10m
	// MaxAttempts caps upstream attempts per request (primary + fallbacks). Default 3.
	MaxAttempts int `koanf:"max_attempts"`
	// MaxRetryAfter is the longest retry-after the router waits for before the
	// next attempt; a longer hint makes that upstream skipped. Default 2s.
	MaxRetryAfter time.Duration `koanf:"max_retry_after"`
	// MaxInFlight bounds the API requests the PoP serves at once, live
	// streams included; beyond it a request gets 503 "overloaded" at once and
	// /readyz reports busy. Default 25,000 (docs/RATIONALE.md "Why a PoP-wide
	// bound, and why 20,000 streams?").
	MaxInFlight int64 `koanf:"max_in_flight"`
	// MaxStreams bounds the live streams the PoP relays at once; beyond it a
	// new stream request gets 503 "overloaded". Default 20,000.
	MaxStreams int64 `koanf:"max_streams"`
	// StreamLoops is how many event loops live streams are parked on
	// (router/park.go): 0 means one per processor (GOMAXPROCS), -1 parks no
	// stream (each is relayed by a goroutine of its own, as before). A
	// listener setting: a change takes a restart.
	StreamLoops int `koanf:"stream_loops"`
}

// UpstreamPool configures the upstreams' connection pools as a whole (each
// upstream's own cap is upstreams[].max_conns). Zero fields take
// router/upstream's defaults; a reload applies them to the pools it builds
// (an upstream whose settings are unchanged keeps its warm pool otherwise).
type UpstreamPool struct {
	// MaxConnWait is how long a request waits for a connection of a full
	// pool before it is answered as a local overload (503 "overloaded", or
	// the next cloud with room). Default 100ms.
	MaxConnWait time.Duration `koanf:"max_conn_wait"`
	// ReadBufferBytes is each upstream connection's read buffer, held for a
	// stream's whole life; a cloud's response headers must fit in it.
	// Default 4KiB.
	ReadBufferBytes ByteSize `koanf:"read_buffer_bytes"`
}

// Tenant is one customer of this PoP.
type Tenant struct {
	Name string `koanf:"name"`
	// Keys are the client API keys (sent as "Authorization: Bearer KEY") that
	// identify this tenant; write them as ${ENV} references.
	Keys []string `koanf:"keys"`
	// Plugins names the plugins applied to this tenant; empty means all.
	Plugins []string `koanf:"plugins"`
	// CachePolicy overrides cache.policy for this tenant ("" = inherit).
	CachePolicy string `koanf:"cache_policy"`
	// Limits are the tenant's rate limits and budgets (docs/limits.md).
	Limits TenantLimits `koanf:"limits"`
}

// TenantLimits bound a tenant as a whole, and (PerKey) each of its managed
// keys by default. A zero field is "no limit".
type TenantLimits struct {
	RequestsPerMinute int64   `koanf:"requests_per_minute"`
	TokensPerMinute   int64   `koanf:"tokens_per_minute"` // input + output, estimated then settled
	DailyBudget       float64 `koanf:"daily_budget"`      // per UTC day, in the price tables' currency
	MonthlyBudget     float64 `koanf:"monthly_budget"`    // per UTC month
	// PerKey are each managed key's default limits (a key's own override them).
	PerKey KeyLimits `koanf:"per_key"`
}

// KeyLimits are one key's limits; a zero field is "no limit".
type KeyLimits struct {
	RequestsPerMinute int64   `koanf:"requests_per_minute"`
	TokensPerMinute   int64   `koanf:"tokens_per_minute"`
	DailyBudget       float64 `koanf:"daily_budget"`
	MonthlyBudget     float64 `koanf:"monthly_budget"`
}

// Upstream, Auth and Price are the adapters' own configuration (package
// provider owns them, so adapters need not import this package); the schema
// uses them as they are.
type (
	Upstream = provider.Upstream
	Auth     = provider.Auth
	Price    = provider.Price
)

// Plugin is one plugin module.
type Plugin struct {
	Name string `koanf:"name"`
	// Kind is "route", "redact", or "route,redact" for a module that is both.
	Kind string `koanf:"kind"`
	// Wasm is the module's path (relative paths are relative to the config file).
	Wasm string `koanf:"wasm"`
	// Native is, instead of Wasm, the path of a native plugin's executable,
	// run out of process over hashicorp/go-plugin (plugins/native): for logic
	// a sandbox must not run. Exactly one of wasm and native is set.
	Native string `koanf:"native"`
	// Timeout bounds one call of a native plugin. Zero: plugins/native's default (500ms).
	Timeout time.Duration `koanf:"timeout"`
	// Env names the router's environment variables a native plugin's process
	// gets; nothing else of the router's environment is inherited.
	Env []string `koanf:"env"`
	// OnError is "open" (skip the plugin; default for route) or "closed"
	// (reject the request with 503; default for redact).
	OnError string `koanf:"on_error"`
	// Config is passed to the plugin's init as JSON.
	Config map[string]any `koanf:"config"`
	// MaxFuel is the CPU budget of one call, in fuel units. Default 10,000,000.
	MaxFuel int64 `koanf:"max_fuel"`
	// MaxMemory caps one instance's linear memory. Default 64MiB.
	MaxMemory ByteSize `koanf:"max_memory"`
	// PoolSize is the number of prewarmed instances. Default 2×GOMAXPROCS.
	PoolSize int `koanf:"pool_size"`
	// MaxCalls recycles an instance after this many calls. Default 10,000.
	MaxCalls int `koanf:"max_calls"`
}

// Responses configures how the Responses API is served by upstreams that
// only speak Chat Completions (docs/responses.md).
type Responses struct {
	// OptionalTools are hosted tool types (web_search, file_search, …) that
	// are dropped instead of refused when the request goes to a chat-only
	// upstream. Unset: [web_search], which Codex sends with every request.
	OptionalTools []string `koanf:"optional_tools"`
}

// Cache configures the response cache.
type Cache struct {
	// Policy is deterministic (default), always or off.
	Policy string `koanf:"policy"`
	// MaxBytes bounds the cache's memory. Default 256MiB.
	MaxBytes ByteSize `koanf:"max_bytes"`
	// MaxEntryBytes caps one stored answer. Default 1MiB.
	MaxEntryBytes ByteSize `koanf:"max_entry_bytes"`
	// TTL is how long an entry lives. Default 1h.
	TTL time.Duration `koanf:"ttl"`
	// MaxTTL caps a client's Cache-Control: max-age. Default 24h.
	MaxTTL time.Duration `koanf:"max_ttl"`
	// Models overrides the policy per public model name.
	Models map[string]string `koanf:"models"`
}

// Admin configures the admin API and dashboard (router/admin). They are
// served on their own listener, never on the client-facing one.
type Admin struct {
	// Listen is the admin listener's address; empty = no admin API. It must
	// differ from listen, and needs a token.
	Listen string `koanf:"listen"`
	// Token is required as "Authorization: Bearer TOKEN" on every /admin/
	// call. A secret: write it as an ${ENV} reference.
	Token string `koanf:"token"`
}

// Telemetry configures metrics (always on, served at /metrics) and tracing
// (off unless tracing.endpoint is set).
type Telemetry struct {
	// ServiceName is the OpenTelemetry service.name. Default "switchyard".
	ServiceName string `koanf:"service_name"`
	// DisableProcessMetrics leaves out the go_* and process_* families.
	DisableProcessMetrics bool `koanf:"disable_process_metrics"`
	// Tracing exports spans over OTLP/HTTP.
	Tracing Tracing `koanf:"tracing"`
}

// Tracing configures span export over OTLP/HTTP (protobuf).
type Tracing struct {
	// Endpoint is the collector's OTLP/HTTP traces URL, e.g.
	// http://127.0.0.1:4318/v1/traces. Empty = tracing off.
	Endpoint string `koanf:"endpoint"`
	// Headers are sent with every export (e.g. a collector token); their
	// values are secrets, masked in the admin config dump.
	Headers map[string]string `koanf:"headers"`
	// SampleRatio is the fraction of new traces recorded, (0,1]; 0 = 1.
	SampleRatio float64 `koanf:"sample_ratio"`
	// BatchTimeout is the longest a span waits before export. Default 5s.
	BatchTimeout time.Duration `koanf:"batch_timeout"`
	// ExportTimeout bounds one export. Default 10s.
	ExportTimeout time.Duration `koanf:"export_timeout"`
}

// Keys configures managed virtual keys, created through the admin API and
// persisted hashed in a file (docs/limits.md).
type Keys struct {
	// File is the key file (relative paths are relative to the config
	// file). Empty = no managed keys.
	File string `koanf:"file"`
	// ReloadInterval is how often the file is checked for another writer's
	// change. Default 2s; negative turns the check off.
	ReloadInterval time.Duration `koanf:"reload_interval"`
}

// Log configures logging.
type Log struct {
	Level  string `koanf:"level"`  // debug, info (default), warn, error
	Access bool   `koanf:"access"` // one line per request: status, upstream, timings; never content
}
