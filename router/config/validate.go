package config

import (
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/provider"

	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is what every *ValidationError unwraps to, so callers can test
// errors.Is(err, config.ErrInvalid) without a type assertion.
var ErrInvalid = errors.New("config: invalid configuration")

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path locates the value in the file, in the form "upstreams[1].auth.api_key"
	// or `cache.models["gpt-4.1"]`; empty for problems with the file as a whole.
	Path string
	// Message says what was expected. It never contains a secret's value.
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in a configuration, in file order
// as far as it can be known. Load, Parse and Validate return it; on reload the
// caller keeps the old configuration and reports it whole.
type ValidationError struct {
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// problems collects Problems; the first one at a path wins, so a value that
// failed to decode is not reported again as missing.
type problems struct {
	list []Problem
	seen map[string]bool
}

func (ps *problems) add(path, format string, args ...any) {
	if path != "" && ps.seen[path] {
		return
	}
	if ps.seen == nil {
		ps.seen = make(map[string]bool)
	}
	ps.seen[path] = true
	ps.list = append(ps.list, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps.list}
}

// joinKey appends a map key to a path: ".key" when the key is a plain word,
// `["key"]` when it holds dots or other characters (model names like "gpt-4.1").
func joinKey(parent, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return parent + "[" + strconv.Quote(key) + "]"
	case parent == "":
		return key
	default:
		return parent + "." + key
	}
}

func index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// Validate checks c and returns a *ValidationError listing every problem, or nil.
// Call it after ApplyDefaults: it does not treat zero values as defaults.
// It stats plugin files (paths as stored, see Parse for how they are resolved)
// and touches nothing else outside c. Secret values never appear in a message.
func (c *Config) Validate() error {
	var ps problems
	c.validate(&ps)
	return ps.err()
}

func (c *Config) validate(ps *problems) {
	checkHostPort(ps, "listen", c.Listen)
	if c.Pprof != "" {
		checkHostPort(ps, "pprof", c.Pprof)
	}

	l := c.Limits
	positive(ps, "limits.max_body_bytes", int64(l.MaxBodyBytes))
	positive(ps, "limits.max_header_bytes", int64(l.MaxHeaderBytes))
	positive(ps, "limits.read_timeout", int64(l.ReadTimeout))
	positive(ps, "limits.write_timeout", int64(l.WriteTimeout))
	positive(ps, "limits.idle_timeout", int64(l.IdleTimeout))
	positive(ps, "limits.request_timeout", int64(l.RequestTimeout))
	positive(ps, "limits.max_attempts", int64(l.MaxAttempts))
	positive(ps, "limits.max_retry_after", int64(l.MaxRetryAfter))
	between(ps, "limits.max_in_flight", l.MaxInFlight, 1, maxConcurrency)
	between(ps, "limits.max_streams", l.MaxStreams, 1, maxConcurrency)
	between(ps, "limits.stream_loops", int64(l.StreamLoops), -1, 1024)
	up := c.UpstreamPool
	if up.MaxConnWait < 0 || up.MaxConnWait > maxConnWait {
		ps.add("upstream_pool.max_conn_wait", "expected 0 (the default, 100ms) to %v; got %v", maxConnWait, up.MaxConnWait)
	}
	if up.ReadBufferBytes != 0 && (up.ReadBufferBytes < minReadBuffer || up.ReadBufferBytes > maxReadBuffer) {
		ps.add("upstream_pool.read_buffer_bytes", "expected 0 (the default, 4KiB) or %v to %v: a cloud's response headers must fit in it; got %v",
			minReadBuffer, maxReadBuffer, up.ReadBufferBytes)
	}

	c.validateUpstreams(ps)
	plugins := c.validatePlugins(ps)
	c.validateTenants(ps, plugins)
	c.validateCache(ps)
	c.validateOperations(ps)

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		ps.add("log.level", "expected one of debug, info, warn, error; got %q", c.Log.Level)
	}
}

func (c *Config) validateUpstreams(ps *problems) {
	if len(c.Upstreams) == 0 {
		ps.add("upstreams", "at least one upstream is required")
		return
	}
	names := make(map[string]int)
	models := 0
	for i, u := range c.Upstreams {
		p := index("upstreams", i)
		if u.Name == "" {
			ps.add(p+".name", "a name is required")
		} else if j, dup := names[u.Name]; dup {
			ps.add(p+".name", "duplicate name %q: also upstreams[%d]", u.Name, j)
		} else {
			names[u.Name] = i
		}
		if _, _, err := provider.ParseResponsesMode(u.Responses); err != nil {
			ps.add(p+".responses", "expected native, translated or off; got %q", u.Responses)
		}
		if u.BaseURL != "" {
			checkURL(ps, p+".base_url", u.BaseURL)
		}
		a := u.Auth
		if u.APIVersion != "" && u.Provider != ProviderAzure {
			ps.add(p+".api_version", "applies only to azure upstreams")
		}
		switch u.Provider {
		case ProviderOpenAI:
			onlyFor(ps, p+".api", u.API, "azure and bedrock")
			if a.APIKey == "" {
				ps.add(p+".auth.api_key", "an API key is required for provider openai")
			}
		case ProviderAzure:
			if u.BaseURL == "" {
				ps.add(p+".base_url", "required for provider azure, e.g. https://RESOURCE.openai.azure.com")
			}
			if u.API != APIAzureDeployments && u.API != APIAzureV1 {
				ps.add(p+".api", "expected deployments or v1 for provider azure; got %q", u.API)
			}
			switch {
			case a.APIKey == "" && a.BearerToken == "":
				ps.add(p+".auth.api_key", "provider azure needs auth.api_key or auth.bearer_token")
			case a.APIKey != "" && a.BearerToken != "":
				ps.add(p+".auth.bearer_token", "set auth.api_key or auth.bearer_token, not both")
			}
		case ProviderBedrock:
			if u.API != APIBedrockOpenAI && u.API != APIBedrockConverse {
				ps.add(p+".api", "expected openai or converse for provider bedrock; got %q", u.API)
			}
			if u.Region == "" {
				ps.add(p+".region", "required for provider bedrock, e.g. us-east-1")
			}
			if (a.AccessKeyID == "") != (a.SecretAccessKey == "") {
				ps.add(p+".auth.secret_access_key", "access_key_id and secret_access_key go together")
			}
			if a.SessionToken != "" && a.AccessKeyID == "" {
				ps.add(p+".auth.session_token", "needs access_key_id and secret_access_key")
			}
			if a.BearerToken != "" && a.AccessKeyID != "" {
				ps.add(p+".auth.bearer_token", "set a Bedrock API key (bearer_token) or SigV4 keys, not both")
			}
		case ProviderVertex:
			onlyFor(ps, p+".api", u.API, "azure and bedrock")
			if u.Project == "" {
				ps.add(p+".project", "required for provider vertex: the Google Cloud project id")
			}
			if u.Region == "" {
				ps.add(p+".region", "required for provider vertex, e.g. europe-west4 or global")
			}
			if a.CredentialsFile == "" {
				ps.add(p+".auth.credentials_file", "required for provider vertex: a service-account JSON file")
			}
		default:
			ps.add(p+".provider", "expected one of openai, azure, bedrock, vertex; got %q", u.Provider)
		}
		for _, k := range sortedKeys(u.Models) {
			mp := joinKey(p+".models", k)
			if k == "" {
				ps.add(mp, "empty model name")
			} else if u.Models[k] == "" {
				ps.add(mp, "the upstream's model or deployment id is empty")
			}
		}
		models += len(u.Models)
		nonNegative(ps, p+".weight", int64(u.Weight))
		nonNegative(ps, p+".timeout", int64(u.Timeout))
		nonNegative(ps, p+".max_conns", int64(u.MaxConns))
		if u.Price.Input < 0 {
			ps.add(p+".price.input", "must not be negative")
		}
		if u.Price.Output < 0 {
			ps.add(p+".price.output", "must not be negative")
		}
	}
	if models == 0 {
		ps.add("upstreams", "no upstream serves any model: add models: {public-name: upstream-id}")
	}
}

// validatePlugins returns the set of valid plugin names, for tenants to refer to.
func (c *Config) validatePlugins(ps *problems) map[string]bool {
	names := make(map[string]bool)
	for i, pl := range c.Plugins {
		p := index("plugins", i)
		if pl.Name == "" {
			ps.add(p+".name", "a name is required")
		} else if names[pl.Name] {
			ps.add(p+".name", "duplicate name %q", pl.Name)
		}
		names[pl.Name] = true
		switch pl.Kind {
		case KindRoute, KindRedact, KindRouteRedact:
		default:
			ps.add(p+".kind", "expected route, redact or \"route,redact\"; got %q", pl.Kind)
		}
		field, file := ".wasm", pl.Wasm
		if pl.Native != "" {
			field, file = ".native", pl.Native
		}
		switch {
		case pl.Wasm != "" && pl.Native != "":
			ps.add(p+".native", "set wasm or native, not both")
		case file == "":
			ps.add(p+".wasm", "the module's path is required (or native: the plugin's executable)")
		default:
			if st, err := os.Stat(file); err != nil {
				ps.add(p+field, "cannot read %s: %v", file, errors.Unwrap(err))
			} else if !st.Mode().IsRegular() {
				ps.add(p+field, "%s is not a regular file", file)
			}
		}
		if pl.Native == "" && (pl.Timeout != 0 || len(pl.Env) > 0) {
			ps.add(p+".timeout", "timeout and env apply only to native plugins")
		}
		// "" is the per-hook default (plugins.OnErrorDefault): open for
		// route, closed for redact.
		if pl.OnError != "" && pl.OnError != OnErrorOpen && pl.OnError != OnErrorClosed {
			ps.add(p+".on_error", "expected open or closed; got %q", pl.OnError)
		}
		// Zero means the plugin host's default.
		nonNegative(ps, p+".max_fuel", pl.MaxFuel)
		nonNegative(ps, p+".max_memory", int64(pl.MaxMemory))
		nonNegative(ps, p+".pool_size", int64(pl.PoolSize))
		nonNegative(ps, p+".max_calls", int64(pl.MaxCalls))
	}
	return names
}

func (c *Config) validateTenants(ps *problems, plugins map[string]bool) {
	names := make(map[string]bool)
	keys := make(map[string]int) // key → tenant index; keys are secrets, never printed
	for i, t := range c.Tenants {
		p := index("tenants", i)
		if t.Name == "" {
			ps.add(p+".name", "a name is required")
		} else if names[t.Name] {
			ps.add(p+".name", "duplicate name %q", t.Name)
		}
		names[t.Name] = true
		if len(t.Keys) == 0 {
			ps.add(p+".keys", "at least one client key is required")
		}
		for j, k := range t.Keys {
			kp := index(p+".keys", j)
			if k == "" {
				ps.add(kp, "empty key")
			} else if other, dup := keys[k]; dup {
				ps.add(kp, "duplicate key: also used by tenants[%d]", other)
			} else {
				keys[k] = i
			}
		}
		for j, name := range t.Plugins {
			if !plugins[name] || name == "" {
				ps.add(index(p+".plugins", j), "no plugin named %q", name)
			}
		}
		if t.CachePolicy != "" {
			checkPolicy(ps, p+".cache_policy", t.CachePolicy)
		}
	}
}

func (c *Config) validateCache(ps *problems) {
	cc := c.Cache
	checkPolicy(ps, "cache.policy", cc.Policy)
	// Zero means the cache's default (router/cache).
	nonNegative(ps, "cache.max_bytes", int64(cc.MaxBytes))
	nonNegative(ps, "cache.max_entry_bytes", int64(cc.MaxEntryBytes))
	nonNegative(ps, "cache.ttl", int64(cc.TTL))
	nonNegative(ps, "cache.max_ttl", int64(cc.MaxTTL))
	maxBytes, maxTTL := cc.MaxBytes, cc.MaxTTL
	if maxBytes == 0 {
		maxBytes = cache.DefaultMaxBytes
	}
	if maxTTL == 0 {
		maxTTL = cache.DefaultMaxTTL
	}
	if cc.MaxEntryBytes > maxBytes {
		ps.add("cache.max_entry_bytes", "must not exceed cache.max_bytes (%s)", maxBytes)
	}
	if cc.TTL > maxTTL {
		ps.add("cache.ttl", "must not exceed cache.max_ttl (%s)", maxTTL)
	}
	served := make(map[string]bool)
	for _, m := range c.Models() {
		served[m] = true
	}
	for _, m := range sortedKeys(cc.Models) {
		p := joinKey("cache.models", m)
		checkPolicy(ps, p, cc.Models[m])
		if !served[m] && len(c.Upstreams) > 0 {
			ps.add(p, "no upstream serves model %q", m)
		}
	}
}

func checkPolicy(ps *problems, path, v string) {
	switch v {
	case PolicyDeterministic, PolicyAlways, PolicyOff:
	default:
		ps.add(path, "expected deterministic, always or off; got %q", v)
	}
}

func checkHostPort(ps *problems, path, v string) {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		ps.add(path, "expected host:port such as 127.0.0.1:8080; got %q", v)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		ps.add(path, "expected a numeric port 0-65535; got %q", port)
	}
}

func checkURL(ps *problems, path, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.add(path, "expected an http or https URL such as https://host; got %q", v)
		return
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		ps.add(path, "must not carry a query, fragment or user info")
	}
}

func onlyFor(ps *problems, path, v, providers string) {
	if v != "" {
		ps.add(path, "applies only to %s upstreams", providers)
	}
}

func positive(ps *problems, path string, v int64) {
	if v <= 0 {
		ps.add(path, "must be positive")
	}
}

// Bounds of the PoP-wide settings: beyond them a value is a typo, not a plan.
// Why these? A million concurrent requests is past what one process's file
// descriptors and memory hold; a pool wait over 10s is a queue behind
// minute-long streams, not an overload answer; a read buffer over 1MiB per
// connection multiplies by every live stream.
const (
	maxConcurrency = 1 << 20
	maxConnWait    = 10 * time.Second
	minReadBuffer  = 1 * KiB
	maxReadBuffer  = 1 * MiB
)

// between reports v outside [lo, hi].
func between(ps *problems, path string, v, lo, hi int64) {
	if v < lo || v > hi {
		ps.add(path, "expected %d to %d; got %d", lo, hi, v)
	}
}

func nonNegative(ps *problems, path string, v int64) {
	if v < 0 {
		ps.add(path, "must not be negative")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validateOperations checks the admin listener, telemetry, managed keys and
// the tenants' limits.
func (c *Config) validateOperations(ps *problems) {
	if a := c.Admin; a.Listen != "" {
		checkHostPort(ps, "admin.listen", a.Listen)
		if a.Token == "" {
			ps.add("admin.token", "required when admin.listen is set")
		}
		if a.Listen == c.Listen && !strings.HasSuffix(a.Listen, ":0") { // port 0: each listener gets its own
			ps.add("admin.listen", "must differ from listen: the admin API never shares the client-facing listener")
		}
	}
	tr := c.Telemetry.Tracing
	if tr.Endpoint != "" {
		checkURL(ps, "telemetry.tracing.endpoint", tr.Endpoint)
	}
	if tr.SampleRatio < 0 || tr.SampleRatio > 1 || tr.SampleRatio != tr.SampleRatio {
		ps.add("telemetry.tracing.sample_ratio", "expected a fraction from 0 to 1; got %v", tr.SampleRatio)
	}
	nonNegative(ps, "telemetry.tracing.batch_timeout", int64(tr.BatchTimeout))
	nonNegative(ps, "telemetry.tracing.export_timeout", int64(tr.ExportTimeout))
	for _, k := range sortedKeys(tr.Headers) {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			ps.add(joinKey("telemetry.tracing.headers", k), "not a valid header name")
		}
	}
	for i, t := range c.Tenants {
		p := index("tenants", i) + ".limits"
		checkLimits(ps, p, t.Limits.RequestsPerMinute, t.Limits.TokensPerMinute, t.Limits.DailyBudget, t.Limits.MonthlyBudget)
		k := t.Limits.PerKey
		checkLimits(ps, p+".per_key", k.RequestsPerMinute, k.TokensPerMinute, k.DailyBudget, k.MonthlyBudget)
	}
	if c.Keys.File == "" && c.Keys.ReloadInterval != 0 {
		ps.add("keys.reload_interval", "applies only with keys.file")
	}
}

// maxRate and maxBudget mirror router/limits' bounds (a larger number is a typo).
const (
	maxRate   = 1 << 40
	maxBudget = 1e9
)

func checkLimits(ps *problems, path string, rpm, tpm int64, daily, monthly float64) {
	if rpm < 0 || rpm > maxRate {
		ps.add(path+".requests_per_minute", "expected 0 (no limit) to %d; got %d", int64(maxRate), rpm)
	}
	if tpm < 0 || tpm > maxRate {
		ps.add(path+".tokens_per_minute", "expected 0 (no limit) to %d; got %d", int64(maxRate), tpm)
	}
	if !(daily >= 0 && daily <= maxBudget) {
		ps.add(path+".daily_budget", "expected 0 (no budget) to %g; got %v", maxBudget, daily)
	}
	if !(monthly >= 0 && monthly <= maxBudget) {
		ps.add(path+".monthly_budget", "expected 0 (no budget) to %g; got %v", maxBudget, monthly)
	}
}
