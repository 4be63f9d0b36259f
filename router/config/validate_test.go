package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// validConfig returns a config that validates, with one upstream of each
// provider, two plugins (their files in a temp dir) and two tenants.
func validConfig(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	wasm := filepath.Join(dir, "p.wasm")
	if err := os.WriteFile(wasm, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Config{
		Upstreams: []Upstream{
			{Name: "oa", Provider: "openai", Auth: Auth{APIKey: "sk-test"}, Models: map[string]string{"gpt-4.1": "gpt-4.1"}},
			{Name: "az", Provider: "azure", BaseURL: "https://acme.openai.azure.com", Auth: Auth{APIKey: "k"}, Models: map[string]string{"gpt-4.1": "dep"}},
			{Name: "br", Provider: "bedrock", Region: "us-east-1", Models: map[string]string{"gpt-oss-120b": "openai.gpt-oss-120b-1:0"}},
			{Name: "vx", Provider: "vertex", Region: "global", Project: "p", Auth: Auth{CredentialsFile: "/sa.json"}, Models: map[string]string{"gemini": "google/gemini-2.5-pro"}},
		},
		Plugins: []Plugin{
			{Name: "pii", Kind: "redact", Wasm: wasm},
			{Name: "near", Kind: "route", Wasm: wasm},
		},
		Tenants: []Tenant{
			{Name: "a", Keys: []string{"ka1", "ka2"}, Plugins: []string{"pii"}},
			{Name: "b", Keys: []string{"kb"}, CachePolicy: "off"},
		},
		Cache: Cache{Models: map[string]string{"gpt-4.1": "always"}},
	}
	c.ApplyDefaults()
	return c
}

func TestValidConfig(t *testing.T) {
	if err := validConfig(t).Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestApplyDefaults(t *testing.T) {
	c := validConfig(t)
	if c.Listen != "127.0.0.1:8080" || c.Limits.MaxBodyBytes != 4*MiB || c.Limits.MaxHeaderBytes != 16*KiB ||
		c.Limits.ReadTimeout != 30*time.Second || c.Limits.WriteTimeout != 60*time.Second ||
		c.Limits.IdleTimeout != 120*time.Second || c.Limits.RequestTimeout != 10*time.Minute ||
		c.Limits.MaxAttempts != 3 || c.Limits.MaxRetryAfter != 2*time.Second ||
		c.Limits.MaxInFlight != 25_000 || c.Limits.MaxStreams != 20_000 {
		t.Errorf("top-level defaults: %+v %+v", c.Listen, c.Limits)
	}
	// The pool's settings stay zero: router/upstream owns their defaults.
	if c.UpstreamPool != (UpstreamPool{}) {
		t.Errorf("upstream_pool defaults: %+v", c.UpstreamPool)
	}
	cc := c.Cache
	cc.Models = nil
	// Sizes and TTLs stay zero: router/cache owns their defaults.
	if !reflect.DeepEqual(cc, Cache{Policy: "deterministic"}) {
		t.Errorf("cache defaults: %+v", c.Cache)
	}
	if c.Log.Level != "info" {
		t.Errorf("log.level = %q", c.Log.Level)
	}
	wantURL := []string{"https://api.openai.com", "https://acme.openai.azure.com", "https://bedrock-runtime.us-east-1.amazonaws.com", "https://aiplatform.googleapis.com"}
	wantAPI := []string{"", "deployments", "openai", ""}
	for i, u := range c.Upstreams {
		// timeout and max_conns stay zero: router/upstream owns their defaults.
		if u.BaseURL != wantURL[i] || u.API != wantAPI[i] || u.Weight != 0 || u.Timeout != 0 || u.MaxConns != 0 {
			t.Errorf("upstreams[%d] defaults: base_url=%q api=%q weight=%d timeout=%v max_conns=%d", i, u.BaseURL, u.API, u.Weight, u.Timeout, u.MaxConns)
		}
	}
	if c.Upstreams[1].APIVersion != "2024-10-21" {
		t.Errorf("azure api_version = %q", c.Upstreams[1].APIVersion)
	}
	if c.Upstreams[0].APIVersion != "" {
		t.Errorf("openai got an api_version %q", c.Upstreams[0].APIVersion)
	}
	v := Config{Upstreams: []Upstream{{Provider: "vertex", Region: "europe-west4"}, {Provider: "azure", API: "v1"}}}
	v.ApplyDefaults()
	if got := v.Upstreams[0].BaseURL; got != "https://europe-west4-aiplatform.googleapis.com" {
		t.Errorf("vertex regional base_url = %q", got)
	}
	if got := v.Upstreams[1].APIVersion; got != "" {
		t.Errorf("azure v1 got api_version %q; the v1 API takes none", got)
	}
	p := c.Plugins
	// Failure policies and budgets stay as written: package plugins owns the
	// per-hook policy default and plugins/wasm the budgets.
	if p[0].OnError != "" || p[1].OnError != "" || p[0].MaxFuel != 0 || p[0].MaxMemory != 0 || p[0].PoolSize != 0 || p[0].MaxCalls != 0 {
		t.Errorf("plugin defaults: %+v", p)
	}
	both := Config{Plugins: []Plugin{{Kind: "route,redact"}}}
	both.ApplyDefaults()
	if both.Plugins[0].OnError != "" {
		t.Errorf("route,redact on_error = %q, want \"\" (per-hook default)", both.Plugins[0].OnError)
	}
	// Idempotent, and explicit values survive.
	again := *c
	again.Upstreams = slices.Clone(c.Upstreams)
	again.Upstreams[0].Weight = 7
	again.ApplyDefaults()
	if again.Upstreams[0].Weight != 7 || again.Listen != c.Listen {
		t.Errorf("ApplyDefaults overwrote a set value")
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		path   string // the problem expected (among possibly others)
		msg    string // substring of its message
	}{
		{"listen not host:port", func(c *Config) { c.Listen = "8080" }, "listen", "host:port"},
		{"listen bad port", func(c *Config) { c.Listen = "127.0.0.1:http" }, "listen", "numeric port"},
		{"listen port range", func(c *Config) { c.Listen = ":70000" }, "listen", "numeric port"},
		{"pprof bad", func(c *Config) { c.Pprof = "localhost" }, "pprof", "host:port"},
		{"no upstreams", func(c *Config) { c.Upstreams = nil; c.Cache.Models = nil }, "upstreams", "at least one upstream"},
		{"no models", func(c *Config) {
			for i := range c.Upstreams {
				c.Upstreams[i].Models = nil
			}
			c.Cache.Models = nil
		}, "upstreams", "no upstream serves any model"},
		{"empty upstream name", func(c *Config) { c.Upstreams[2].Name = "" }, "upstreams[2].name", "required"},
		{"duplicate upstream name", func(c *Config) { c.Upstreams[3].Name = "oa" }, "upstreams[3].name", `duplicate name "oa"`},
		{"unknown provider", func(c *Config) { c.Upstreams[0].Provider = "anthropic" }, "upstreams[0].provider", "openai, azure, bedrock, vertex"},
		{"base_url not a URL", func(c *Config) { c.Upstreams[0].BaseURL = "api.openai.com" }, "upstreams[0].base_url", "http or https URL"},
		{"base_url ftp", func(c *Config) { c.Upstreams[0].BaseURL = "ftp://x" }, "upstreams[0].base_url", "http or https URL"},
		{"base_url query", func(c *Config) { c.Upstreams[0].BaseURL = "https://x/?a=1" }, "upstreams[0].base_url", "query"},
		{"openai api key", func(c *Config) { c.Upstreams[0].Auth.APIKey = "" }, "upstreams[0].auth.api_key", "API key is required"},
		{"openai api not applicable", func(c *Config) { c.Upstreams[0].API = "v1" }, "upstreams[0].api", "only to azure and bedrock"},
		{"azure base_url", func(c *Config) { c.Upstreams[1].BaseURL = "" }, "upstreams[1].base_url", "required for provider azure"},
		{"azure both auths", func(c *Config) { c.Upstreams[1].Auth.BearerToken = "t" }, "upstreams[1].auth.bearer_token", "not both"},
		{"api_version not azure", func(c *Config) { c.Upstreams[2].APIVersion = "2024-10-21" }, "upstreams[2].api_version", "only to azure"},
		{"bedrock bearer and sigv4", func(c *Config) {
			c.Upstreams[2].Auth = Auth{BearerToken: "b", AccessKeyID: "a", SecretAccessKey: "s"}
		}, "upstreams[2].auth.bearer_token", "not both"},
		{"azure api", func(c *Config) { c.Upstreams[1].API = "converse" }, "upstreams[1].api", "deployments or v1"},
		{"azure auth", func(c *Config) { c.Upstreams[1].Auth = Auth{} }, "upstreams[1].auth.api_key", "api_key or auth.bearer_token"},
		{"bedrock api", func(c *Config) { c.Upstreams[2].API = "v1" }, "upstreams[2].api", "openai or converse"},
		{"bedrock region", func(c *Config) { c.Upstreams[2].Region = "" }, "upstreams[2].region", "required for provider bedrock"},
		{"bedrock half keys", func(c *Config) { c.Upstreams[2].Auth.AccessKeyID = "AKIA" }, "upstreams[2].auth.secret_access_key", "go together"},
		{"bedrock session alone", func(c *Config) { c.Upstreams[2].Auth.SessionToken = "t" }, "upstreams[2].auth.session_token", "needs access_key_id"},
		{"vertex project", func(c *Config) { c.Upstreams[3].Project = "" }, "upstreams[3].project", "required for provider vertex"},
		{"vertex region", func(c *Config) { c.Upstreams[3].Region = "" }, "upstreams[3].region", "required for provider vertex"},
		{"vertex credentials", func(c *Config) { c.Upstreams[3].Auth.CredentialsFile = "" }, "upstreams[3].auth.credentials_file", "service-account"},
		{"empty model id", func(c *Config) { c.Upstreams[0].Models["gpt-4.1"] = "" }, `upstreams[0].models["gpt-4.1"]`, "id is empty"},
		{"negative weight", func(c *Config) { c.Upstreams[0].Weight = -1 }, "upstreams[0].weight", "negative"},
		{"negative price", func(c *Config) { c.Upstreams[0].Price.Output = -1 }, "upstreams[0].price.output", "negative"},
		{"plugin name empty", func(c *Config) { c.Plugins[1].Name = "" }, "plugins[1].name", "required"},
		{"plugin name duplicate", func(c *Config) { c.Plugins[1].Name = "pii" }, "plugins[1].name", `duplicate name "pii"`},
		{"plugin kind", func(c *Config) { c.Plugins[0].Kind = "filter" }, "plugins[0].kind", "route, redact"},
		{"plugin wasm missing", func(c *Config) { c.Plugins[0].Wasm = "" }, "plugins[0].wasm", "required"},
		{"plugin wasm not found", func(c *Config) { c.Plugins[0].Wasm = "/nonexistent/p.wasm" }, "plugins[0].wasm", "cannot read /nonexistent/p.wasm"},
		{"plugin wasm directory", func(c *Config) { c.Plugins[0].Wasm = os.TempDir() }, "plugins[0].wasm", "not a regular file"},
		{"plugin on_error", func(c *Config) { c.Plugins[0].OnError = "ignore" }, "plugins[0].on_error", "open or closed"},
		{"plugin limits", func(c *Config) { c.Plugins[0].MaxFuel = -5 }, "plugins[0].max_fuel", "negative"},
		{"tenant name empty", func(c *Config) { c.Tenants[1].Name = "" }, "tenants[1].name", "required"},
		{"tenant name duplicate", func(c *Config) { c.Tenants[1].Name = "a" }, "tenants[1].name", `duplicate name "a"`},
		{"tenant without keys", func(c *Config) { c.Tenants[1].Keys = nil }, "tenants[1].keys", "at least one"},
		{"tenant empty key", func(c *Config) { c.Tenants[0].Keys[1] = "" }, "tenants[0].keys[1]", "empty key"},
		{"tenant key duplicate across tenants", func(c *Config) { c.Tenants[1].Keys = []string{"ka2"} }, "tenants[1].keys[0]", "also used by tenants[0]"},
		{"tenant key duplicate within tenant", func(c *Config) { c.Tenants[0].Keys[1] = "ka1" }, "tenants[0].keys[1]", "also used by tenants[0]"},
		{"tenant unknown plugin", func(c *Config) { c.Tenants[0].Plugins = []string{"pii", "nope"} }, "tenants[0].plugins[1]", `no plugin named "nope"`},
		{"tenant cache policy", func(c *Config) { c.Tenants[1].CachePolicy = "sometimes" }, "tenants[1].cache_policy", "deterministic, always or off"},
		{"cache policy", func(c *Config) { c.Cache.Policy = "never" }, "cache.policy", "deterministic, always or off"},
		{"cache model policy", func(c *Config) { c.Cache.Models["gpt-4.1"] = "yes" }, `cache.models["gpt-4.1"]`, "deterministic, always or off"},
		{"cache model unknown", func(c *Config) { c.Cache.Models["gpt-9"] = "off" }, "cache.models.gpt-9", `no upstream serves model "gpt-9"`},
		{"cache entry above max", func(c *Config) { c.Cache.MaxEntryBytes = 512 * MiB }, "cache.max_entry_bytes", "must not exceed cache.max_bytes (256MiB)"},
		{"cache ttl above max", func(c *Config) { c.Cache.TTL = 48 * time.Hour }, "cache.ttl", "must not exceed cache.max_ttl"},
		{"cache max_bytes", func(c *Config) { c.Cache.MaxBytes = -1 }, "cache.max_bytes", "negative"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", "debug, info, warn, error"},
		{"limits body", func(c *Config) { c.Limits.MaxBodyBytes = -1 }, "limits.max_body_bytes", "positive"},
		{"limits attempts", func(c *Config) { c.Limits.MaxAttempts = -2 }, "limits.max_attempts", "positive"},
		{"limits timeout", func(c *Config) { c.Limits.RequestTimeout = -time.Second }, "limits.request_timeout", "positive"},
		{"limits in flight", func(c *Config) { c.Limits.MaxInFlight = -1 }, "limits.max_in_flight", "expected 1 to 1048576"},
		{"limits streams", func(c *Config) { c.Limits.MaxStreams = 1 << 30 }, "limits.max_streams", "expected 1 to 1048576"},
		{"stream loops", func(c *Config) { c.Limits.StreamLoops = -2 }, "limits.stream_loops", "expected -1 to 1024"},
		{"pool wait negative", func(c *Config) { c.UpstreamPool.MaxConnWait = -time.Millisecond }, "upstream_pool.max_conn_wait", "expected 0"},
		{"pool wait too long", func(c *Config) { c.UpstreamPool.MaxConnWait = time.Minute }, "upstream_pool.max_conn_wait", "to 10s"},
		{"pool buffer small", func(c *Config) { c.UpstreamPool.ReadBufferBytes = 512 }, "upstream_pool.read_buffer_bytes", "headers must fit"},
		{"pool buffer large", func(c *Config) { c.UpstreamPool.ReadBufferBytes = 64 * MiB }, "upstream_pool.read_buffer_bytes", "1KiB to 1MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.mutate(c)
			err := c.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.Path == tt.path {
					if !strings.Contains(p.Message, tt.msg) {
						t.Errorf("%s: message %q does not contain %q", p.Path, p.Message, tt.msg)
					}
					return
				}
			}
			t.Errorf("no problem at %s; got:\n%v", tt.path, err)
		})
	}
}

// TestValidateNeverPrintsSecrets guards the rule that keys never reach a log
// line: validation messages about keys and auth say where, not what.
func TestValidateNeverPrintsSecrets(t *testing.T) {
	c := validConfig(t)
	c.Tenants[1].Keys = []string{"ka1"}
	c.Upstreams[2].Auth.AccessKeyID = "AKIASECRET"
	c.Upstreams[1].API = "v2"
	err := c.Validate()
	if err == nil {
		t.Fatal("want problems")
	}
	for _, s := range []string{"ka1", "AKIASECRET", "sk-test"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error text contains the secret %q:\n%v", s, err)
		}
	}
}

func TestValidationErrorText(t *testing.T) {
	e := &ValidationError{Problems: []Problem{{Path: "listen", Message: "bad"}, {Message: "invalid YAML: line 1"}}}
	if got, want := e.Error(), "listen: bad\ninvalid YAML: line 1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestModels(t *testing.T) {
	c := validConfig(t)
	got := c.Models()
	want := []string{"gemini", "gpt-4.1", "gpt-oss-120b"}
	if !slices.Equal(got, want) {
		t.Errorf("Models() = %v, want %v", got, want)
	}
}

func TestPluginConfigJSON(t *testing.T) {
	c := &Config{Plugins: []Plugin{
		{Name: "a"},
		{Name: "b", Config: map[string]any{
			"entities": []any{"email", "phone"},
			"nested":   map[any]any{1: "x", "k": []any{map[any]any{true: 2}}},
			"since":    time.Date(2024, 10, 21, 0, 0, 0, 0, time.UTC),
		}},
	}}
	tests := []struct {
		i    int
		want string
	}{
		{0, `{}`},
		{1, `{"entities":["email","phone"],"nested":{"1":"x","k":[{"true":2}]},"since":"2024-10-21"}`},
	}
	for _, tt := range tests {
		got, err := c.PluginConfigJSON(tt.i)
		if err != nil || string(got) != tt.want {
			t.Errorf("PluginConfigJSON(%d) = %s, %v; want %s", tt.i, got, err, tt.want)
		}
	}
	for _, i := range []int{-1, 2} {
		if _, err := c.PluginConfigJSON(i); !errors.Is(err, ErrNoPlugin) {
			t.Errorf("PluginConfigJSON(%d) error = %v, want ErrNoPlugin", i, err)
		}
	}
}

// The operations sections: admin listener, tracing and tenants' limits.
func TestValidateOperations(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *Config)
		paths []string
	}{
		{"admin without token", func(c *Config) { c.Admin.Listen = "127.0.0.1:9090" }, []string{"admin.token"}},
		{"admin on the client listener", func(c *Config) { c.Admin = Admin{Listen: c.Listen, Token: "t"} }, []string{"admin.listen"}},
		{"admin address", func(c *Config) { c.Admin = Admin{Listen: "nowhere", Token: "t"} }, []string{"admin.listen"}},
		{"tracing endpoint", func(c *Config) { c.Telemetry.Tracing.Endpoint = "grpc://collector:4317" }, []string{"telemetry.tracing.endpoint"}},
		{"sample ratio", func(c *Config) { c.Telemetry.Tracing.SampleRatio = 1.5 }, []string{"telemetry.tracing.sample_ratio"}},
		{"negative timeouts", func(c *Config) { c.Telemetry.Tracing.BatchTimeout, c.Telemetry.Tracing.ExportTimeout = -1, -1 },
			[]string{"telemetry.tracing.batch_timeout", "telemetry.tracing.export_timeout"}},
		{"limits", func(c *Config) {
			c.Tenants[0].Limits = TenantLimits{RequestsPerMinute: -1, TokensPerMinute: 1 << 41, DailyBudget: -2,
				PerKey: KeyLimits{MonthlyBudget: 2e9}}
		}, []string{"tenants[0].limits.requests_per_minute", "tenants[0].limits.tokens_per_minute", "tenants[0].limits.daily_budget",
			"tenants[0].limits.per_key.monthly_budget"}},
		{"reload interval without a file", func(c *Config) { c.Keys.ReloadInterval = time.Second }, []string{"keys.reload_interval"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig(t)
			tc.edit(c)
			var ve *ValidationError
			if err := c.Validate(); !errors.As(err, &ve) {
				t.Fatalf("Validate: %v", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Path)
			}
			if !reflect.DeepEqual(got, tc.paths) {
				t.Fatalf("problems at %v, want %v", got, tc.paths)
			}
		})
	}
	c := validConfig(t)
	c.Admin = Admin{Listen: "127.0.0.1:9090", Token: "t"}
	c.Tenants[0].Limits = TenantLimits{RequestsPerMinute: 60, TokensPerMinute: 1e5, DailyBudget: 10, MonthlyBudget: 200,
		PerKey: KeyLimits{RequestsPerMinute: 10}}
	c.Telemetry.Tracing = Tracing{Endpoint: "http://127.0.0.1:4318/v1/traces", SampleRatio: 0.1, Headers: map[string]string{"x-token": "s"}}
	c.Keys = Keys{File: "/var/lib/switchyard/keys.json", ReloadInterval: time.Second}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
