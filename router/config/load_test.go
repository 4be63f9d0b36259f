package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// fakeEnv is an environment for Parse: only the given variables are set.
func fakeEnv(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

const minimalYAML = `
upstreams:
  - name: oa
    provider: openai
    auth: { api_key: "${OPENAI_API_KEY}" }
    models: { gpt-4.1: gpt-4.1 }
`

var minimalEnv = map[string]string{"OPENAI_API_KEY": "sk-test"}

// mustParse parses yaml that must validate.
func mustParse(t *testing.T, yaml string, env map[string]string, flags *pflag.FlagSet) *Config {
	t.Helper()
	c, err := Parse([]byte(yaml), "", fakeEnv(env), flags)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// problemsOf parses yaml that must not validate and returns its problems by path.
func problemsOf(t *testing.T, yaml string, env map[string]string) map[string]string {
	t.Helper()
	_, err := Parse([]byte(yaml), "", fakeEnv(env), nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse error = %v, want a *ValidationError", err)
	}
	out := make(map[string]string)
	for _, p := range ve.Problems {
		out[p.Path] = p.Message
	}
	return out
}

func TestParseMinimal(t *testing.T) {
	c := mustParse(t, minimalYAML, minimalEnv, nil)
	if c.Listen != DefaultListen || c.Upstreams[0].Auth.APIKey != "sk-test" || c.Upstreams[0].BaseURL != DefaultOpenAIBaseURL ||
		c.Cache.Policy != "deterministic" || c.Limits.MaxBodyBytes != 4*MiB || c.Log.Level != "info" {
		t.Errorf("unexpected config: %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	file := minimalYAML + `
listen: 127.0.0.1:7000
pprof: 127.0.0.1:7001
log: { level: warn, access: false }
limits: { max_body_bytes: 1MiB, max_attempts: 2, read_timeout: 5s }
cache: { policy: off }
admin: { token: file-token }
pop: { name: fra1 }
`
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(c *Config) bool
	}{
		{"file over defaults", nil, nil, func(c *Config) bool {
			return c.Listen == "127.0.0.1:7000" && c.Log.Level == "warn" && c.Limits.MaxBodyBytes == MiB &&
				c.Limits.MaxAttempts == 2 && c.Limits.ReadTimeout == 5*time.Second && c.Cache.Policy == "off" &&
				c.Admin.Token == "file-token" && c.PoP.Name == "fra1" && c.Limits.WriteTimeout == DefaultWriteTimeout
		}},
		{"env over file", map[string]string{
			"SWITCHYARD_LISTEN": "127.0.0.1:7100", "SWITCHYARD_LOG_LEVEL": "debug", "SWITCHYARD_LOG_ACCESS": "true",
			"SWITCHYARD_LIMITS_MAX_BODY_BYTES": "8MiB", "SWITCHYARD_LIMITS_MAX_ATTEMPTS": "5",
			"SWITCHYARD_LIMITS_READ_TIMEOUT": "1m", "SWITCHYARD_CACHE_POLICY": "always",
			"SWITCHYARD_ADMIN_TOKEN": "env-token", "SWITCHYARD_POP_NAME": "ams1", "SWITCHYARD_POP_REGION": "eu-west",
			"SWITCHYARD_CACHE_MAX_BYTES": "1GiB",
		}, nil, func(c *Config) bool {
			return c.Listen == "127.0.0.1:7100" && c.Log.Level == "debug" && c.Log.Access && c.Limits.MaxBodyBytes == 8*MiB &&
				c.Limits.MaxAttempts == 5 && c.Limits.ReadTimeout == time.Minute && c.Cache.Policy == "always" &&
				c.Admin.Token == "env-token" && c.PoP.Name == "ams1" && c.PoP.Region == "eu-west" && c.Cache.MaxBytes == GiB
		}},
		{"empty env is unset", map[string]string{"SWITCHYARD_LISTEN": ""}, nil, func(c *Config) bool {
			return c.Listen == "127.0.0.1:7000"
		}},
		{"flag over env", map[string]string{"SWITCHYARD_LISTEN": "127.0.0.1:7100", "SWITCHYARD_LOG_LEVEL": "debug", "SWITCHYARD_PPROF": "127.0.0.1:7101"},
			[]string{"--listen=127.0.0.1:7200", "--log-level", "error", "--pprof=127.0.0.1:7201"}, func(c *Config) bool {
				return c.Listen == "127.0.0.1:7200" && c.Log.Level == "error" && c.Pprof == "127.0.0.1:7201"
			}},
		{"unset flag keeps env", map[string]string{"SWITCHYARD_LISTEN": "127.0.0.1:7100"}, []string{"--log-level=debug"}, func(c *Config) bool {
			return c.Listen == "127.0.0.1:7100" && c.Log.Level == "debug" && c.Pprof == "127.0.0.1:7001"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"OPENAI_API_KEY": "sk-test"}
			for k, v := range tt.env {
				env[k] = v
			}
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			RegisterFlags(fs)
			fs.Bool("unrelated", false, "a flag of the command, not of the config")
			if err := fs.Parse(append(tt.args, "--unrelated")); err != nil {
				t.Fatal(err)
			}
			c := mustParse(t, file, env, fs)
			if !tt.check(c) {
				t.Errorf("unexpected config: listen=%q pprof=%q log=%+v limits=%+v cache.policy=%q admin=%q pop=%+v",
					c.Listen, c.Pprof, c.Log, c.Limits, c.Cache.Policy, c.Admin.Token, c.PoP)
			}
		})
	}
}

func TestEnvOverrideBadValue(t *testing.T) {
	env := map[string]string{"OPENAI_API_KEY": "k", "SWITCHYARD_LIMITS_MAX_ATTEMPTS": "many", "SWITCHYARD_LOG_ACCESS": "sometimes", "SWITCHYARD_CACHE_TTL": "10"}
	ps := problemsOf(t, minimalYAML, env)
	want := map[string]string{
		"limits.max_attempts": `expected an integer; got "many"`,
		"log.access":          `expected true or false; got "sometimes"`,
		"cache.ttl":           `expected a duration such as "30s" or "1h30m"; got "10"`,
	}
	for path, msg := range want {
		if ps[path] != msg {
			t.Errorf("%s: got %q, want %q", path, ps[path], msg)
		}
	}
}

// TestEnvNames pins the documented mapping: path, upper case, dots → underscores.
func TestEnvNames(t *testing.T) {
	want := map[string]string{
		"SWITCHYARD_LISTEN":                          "listen",
		"SWITCHYARD_PPROF":                           "pprof",
		"SWITCHYARD_POP_NAME":                        "pop.name",
		"SWITCHYARD_LIMITS_MAX_BODY_BYTES":           "limits.max_body_bytes",
		"SWITCHYARD_LIMITS_MAX_RETRY_AFTER":          "limits.max_retry_after",
		"SWITCHYARD_CACHE_POLICY":                    "cache.policy",
		"SWITCHYARD_CACHE_MAX_ENTRY_BYTES":           "cache.max_entry_bytes",
		"SWITCHYARD_ADMIN_TOKEN":                     "admin.token",
		"SWITCHYARD_ADMIN_LISTEN":                    "admin.listen",
		"SWITCHYARD_KEYS_FILE":                       "keys.file",
		"SWITCHYARD_TELEMETRY_TRACING_SAMPLE_RATIO":  "telemetry.tracing.sample_ratio",
		"SWITCHYARD_LOG_LEVEL":                       "log.level",
		"SWITCHYARD_LOG_ACCESS":                      "log.access",
		"SWITCHYARD_LIMITS_MAX_HEADER_BYTES":         "limits.max_header_bytes",
		"SWITCHYARD_LIMITS_MAX_STREAMS":              "limits.max_streams",
		"SWITCHYARD_UPSTREAM_POOL_MAX_CONN_WAIT":     "upstream_pool.max_conn_wait",
		"SWITCHYARD_UPSTREAM_POOL_READ_BUFFER_BYTES": "upstream_pool.read_buffer_bytes",
	}
	for name, path := range want {
		if envPaths[name] != path {
			t.Errorf("envPaths[%s] = %q, want %q", name, envPaths[name], path)
		}
	}
	for name, path := range envPaths {
		if strings.HasPrefix(path, "upstreams") || strings.HasPrefix(path, "tenants") || strings.HasPrefix(path, "plugins") || strings.HasPrefix(path, "cache.models") {
			t.Errorf("%s maps into a list or map (%s); only struct fields are overridable", name, path)
		}
	}
	if len(envPaths) != 34 {
		t.Errorf("%d environment variables, want 34 (update docs/config.md when the schema grows)", len(envPaths))
	}
}

func TestExpand(t *testing.T) {
	env := fakeEnv(map[string]string{"A": "alpha", "B_2": "beta", "EMPTY": ""})
	tests := []struct {
		in, want, err string
	}{
		{"plain", "plain", ""},
		{"${A}", "alpha", ""},
		{"x-${A}-${B_2}-y", "x-alpha-beta-y", ""},
		{"${EMPTY}", "", ""},
		{"$${A}", "${A}", ""},
		{"$$${A}", "$${A}", ""}, // left to right: "$", then the escape
		{"cost $5 and $A", "cost $5 and $A", ""},
		{"$", "$", ""},
		{"${MISSING}", "", "environment variable MISSING is not set"},
		{"${M1}:${A}:${M2}", "", "environment variables M1, M2 are not set"},
		{"${A", "", "unterminated ${"},
		{"${1A}", "", `invalid environment variable name "1A"`},
		{"${}", "", `invalid environment variable name ""`},
		{"${A B}", "", `invalid environment variable name "A B"`},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, env)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${A}", "$${A}", "x${A}y${B}", "${", "${}", "$$", "${A", "}${A}{", "${MISSING}"} {
		f.Add(s)
	}
	env := fakeEnv(map[string]string{"A": "alpha", "B": "${A}"})
	f.Fuzz(func(t *testing.T, s string) {
		got, err := expand(s, env)
		if err != nil {
			return
		}
		// Without references the text is unchanged, and values are not expanded again.
		if !strings.Contains(s, "${") && got != s {
			t.Fatalf("expand(%q) = %q, want it unchanged", s, got)
		}
		if strings.Contains(s, "${B}") && !strings.Contains(s, "$${B}") && !strings.Contains(got, "${A}") {
			t.Fatalf("expand(%q) = %q: the value of B was expanded again", s, got)
		}
	})
}

func TestParseExpandsEnv(t *testing.T) {
	yaml := `
admin: { token: "${ADMIN}" }
upstreams:
  - name: az
    provider: azure
    base_url: "https://${AZ_RESOURCE}.openai.azure.com"
    auth: { api_key: "${AZURE_KEY}" }
    models: { gpt-4.1: dep }
tenants:
  - { name: t, keys: ["${TENANT_KEY}", "literal-$${NOT_A_VAR}"] }
`
	env := map[string]string{"ADMIN": "adm", "AZ_RESOURCE": "acme", "AZURE_KEY": "az-secret", "TENANT_KEY": "tk"}
	c := mustParse(t, yaml, env, nil)
	if c.Admin.Token != "adm" || c.Upstreams[0].BaseURL != "https://acme.openai.azure.com" || c.Upstreams[0].Auth.APIKey != "az-secret" ||
		!slices.Equal(c.Tenants[0].Keys, []string{"tk", "literal-${NOT_A_VAR}"}) {
		t.Errorf("expansion: %+v", c)
	}

	delete(env, "AZURE_KEY")
	delete(env, "TENANT_KEY")
	ps := problemsOf(t, yaml, env)
	if got, want := ps["upstreams[0].auth.api_key"], "environment variable AZURE_KEY is not set"; got != want {
		t.Errorf("upstreams[0].auth.api_key: %q, want %q", got, want)
	}
	if got, want := ps["tenants[0].keys[0]"], "environment variable TENANT_KEY is not set"; got != want {
		t.Errorf("tenants[0].keys[0]: %q, want %q", got, want)
	}
	if len(ps) != 2 {
		t.Errorf("want exactly the two unset variables reported, got %v", ps)
	}
}

// TestDottedModelNames guards against koanf's "." delimiter splitting map
// keys such as "gpt-4.1" into nested maps, with every layer loaded.
func TestDottedModelNames(t *testing.T) {
	yaml := `
upstreams:
  - name: oa
    provider: openai
    auth: { api_key: k }
    models: { gpt-4.1: gpt-4.1-2025-04-14, gpt-5.5: gpt-5.5, o4-mini: o4-mini }
  - name: br
    provider: bedrock
    region: us-east-1
    models: { "openai.gpt-oss-120b-1:0": "openai.gpt-oss-120b-1:0", gpt-4.1: x.y.z }
cache:
  policy: deterministic
  models: { gpt-4.1: always, gpt-5.5: off }
`
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--log-level=debug"}); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, yaml, map[string]string{"SWITCHYARD_CACHE_POLICY": "always", "SWITCHYARD_CACHE_TTL": "2h"}, fs)
	if want := map[string]string{"gpt-4.1": "gpt-4.1-2025-04-14", "gpt-5.5": "gpt-5.5", "o4-mini": "o4-mini"}; !reflect.DeepEqual(c.Upstreams[0].Models, want) {
		t.Errorf("upstreams[0].models = %v, want %v", c.Upstreams[0].Models, want)
	}
	if want := map[string]string{"openai.gpt-oss-120b-1:0": "openai.gpt-oss-120b-1:0", "gpt-4.1": "x.y.z"}; !reflect.DeepEqual(c.Upstreams[1].Models, want) {
		t.Errorf("upstreams[1].models = %v, want %v", c.Upstreams[1].Models, want)
	}
	if want := map[string]string{"gpt-4.1": "always", "gpt-5.5": "off"}; !reflect.DeepEqual(c.Cache.Models, want) {
		t.Errorf("cache.models = %v, want %v (cache.policy from env merged beside it)", c.Cache.Models, want)
	}
	if c.Cache.Policy != "always" || c.Cache.TTL != 2*time.Hour || c.Log.Level != "debug" {
		t.Errorf("overrides lost: %+v %+v", c.Cache, c.Log)
	}
	if got, want := c.Models(), []string{"gpt-4.1", "gpt-5.5", "o4-mini", "openai.gpt-oss-120b-1:0"}; !slices.Equal(got, want) {
		t.Errorf("Models() = %v, want %v", got, want)
	}

	// A problem inside such a key names it whole.
	ps := problemsOf(t, strings.Replace(yaml, "gpt-4.1: always", "gpt-4.1: sometimes", 1), nil)
	if _, ok := ps[`cache.models["gpt-4.1"]`]; !ok {
		t.Errorf(`no problem at cache.models["gpt-4.1"]: %v`, ps)
	}
}

func TestUnknownKeys(t *testing.T) {
	yaml := `
listen: 127.0.0.1:8080
listn: 127.0.0.1:8081
Log: { level: info }
limits: { max_body: 1MiB }
pop: { name: fra1, zone: a }
upstreams:
  - name: oa
    provider: openai
    auth: { api_key: k }
    models: { gpt-4.1: gpt-4.1 }
  - name: br
    provider: bedrock
    region: us-east-1
    modles: { x: y }
    auth: { access_key: a }
plugins:
  - name: p
    kind: route
    wasm: /dev/null
    on_eror: open
    config: { anything: [1, 2], goes: { deep: { here: true } } }
cache: { models: { gpt-4.1: off }, polcy: off }
`
	ps := problemsOf(t, yaml, nil)
	want := map[string]string{
		"listn":                        "unknown key; did you mean listen?",
		"Log":                          "unknown key; did you mean log?",
		"limits.max_body":              "unknown key",
		"pop.zone":                     "unknown key",
		"upstreams[1].modles":          "unknown key; did you mean models?",
		"upstreams[1].auth.access_key": "unknown key",
		"plugins[0].on_eror":           "unknown key; did you mean on_error?",
		"cache.polcy":                  "unknown key; did you mean policy?",
	}
	for path, msg := range want {
		if got, ok := ps[path]; !ok || !strings.HasPrefix(got, msg) {
			t.Errorf("%s: got %q, want %q", path, got, msg)
		}
	}
	for path := range ps {
		if strings.HasPrefix(path, "plugins[0].config") || strings.HasPrefix(path, "upstreams[0]") || strings.HasPrefix(path, "cache.models") {
			t.Errorf("free-form or valid key reported: %s: %s", path, ps[path])
		}
	}
}

func TestDecodeProblems(t *testing.T) {
	yaml := `
listen: [a, b]
limits: { max_body_bytes: 4 parsecs, read_timeout: 30, max_attempts: 2.5, max_header_bytes: 1.5 }
upstreams:
  - name: az
    provider: azure
    base_url: https://acme.openai.azure.com
    api_version: 2024-10-21
    auth: { api_key: k }
    models: { gpt-4.1: dep }
    weight: heavy
    price: { input: "cheap" }
    timeout: 1.5
tenants: "none"
`
	ps := problemsOf(t, yaml, nil)
	want := map[string]string{
		"listen":                   "expected a string, got a list",
		"limits.max_body_bytes":    `expected a size such as 512, "64KiB" or "4MiB"; "4 parsecs": unknown unit "parsecs"`,
		"limits.read_timeout":      `expected a duration with a unit such as "30s"; got the bare number 30`,
		"limits.max_attempts":      "expected an integer; got 2.5",
		"limits.max_header_bytes":  "expected a whole number of bytes; got 1.5",
		"upstreams[0].weight":      `expected an integer; got "heavy"`,
		"upstreams[0].price.input": `expected a number; got "cheap"`,
		"upstreams[0].timeout":     `expected a duration with a unit such as "30s"; got the bare number 1.5`,
		"tenants":                  "expected a list, got a string",
	}
	for path, msg := range want {
		if got := ps[path]; !strings.HasPrefix(got, msg) {
			t.Errorf("%s: got %q, want %q", path, got, msg)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(ps), len(want), ps)
	}
}

func TestYAMLDatesAndNumbersAsStrings(t *testing.T) {
	c := mustParse(t, `
pop: { name: 1, region: 2.5 }
upstreams:
  - name: az
    provider: azure
    base_url: https://acme.openai.azure.com
    api_version: 2024-10-21
    auth: { api_key: 12345 }
    models: { gpt-4.1: 2024 }
`, nil, nil)
	u := c.Upstreams[0]
	if u.APIVersion != "2024-10-21" || u.Auth.APIKey != "12345" || u.Models["gpt-4.1"] != "2024" || c.PoP.Name != "1" || c.PoP.Region != "2.5" {
		t.Errorf("got api_version=%q api_key=%q models=%v pop=%+v", u.APIVersion, u.Auth.APIKey, u.Models, c.PoP)
	}
}

// TestManyProblems checks that one pass reports every problem, each at its path.
func TestManyProblems(t *testing.T) {
	yaml := `
listen: nowhere
bogus: true
log: { level: loud }
limits: { max_attempts: -1 }
upstreams:
  - { name: a, provider: openai, models: { m: m } }
  - { name: a, provider: azure, api: converse, models: { m: d } }
  - { name: "", provider: bedrock, models: { n: n } }
  - { name: v, provider: vertex, region: global, models: { o: o } }
  - { name: x, provider: gcp }
plugins:
  - { name: p, kind: filter, wasm: missing.wasm, on_error: maybe }
  - { name: p, kind: route }
tenants:
  - { name: t, keys: ["${K}"], plugins: [nope] }
  - { name: t, keys: [dup, dup], cache_policy: sometimes }
cache: { policy: never, models: { m: maybe } }
`
	_, err := Parse([]byte(yaml), t.TempDir(), nil, nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"tenants[0].keys[0]", "bogus", "listen", "limits.max_attempts",
		"upstreams[0].auth.api_key", "upstreams[1].name", "upstreams[1].base_url", "upstreams[1].api", "upstreams[1].auth.api_key",
		"upstreams[2].name", "upstreams[2].region", "upstreams[3].project", "upstreams[3].auth.credentials_file", "upstreams[4].provider",
		"plugins[0].kind", "plugins[0].wasm", "plugins[0].on_error", "plugins[1].name", "plugins[1].wasm",
		"tenants[0].plugins[0]", "tenants[1].name", "tenants[1].keys[1]", "tenants[1].cache_policy",
		"cache.policy", "cache.models.m", "log.level",
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Path)
	}
	if !slices.Equal(got, want) {
		t.Errorf("problem paths:\n got %q\nwant %q\n%v", got, want, err)
	}
	if lines := strings.Count(err.Error(), "\n") + 1; lines != len(want) {
		t.Errorf("Error() has %d lines, want %d", lines, len(want))
	}
}

func TestParseInvalidYAML(t *testing.T) {
	for _, y := range []string{"listen: [", "- a\n- b\n", "a: b: c"} {
		_, err := Parse([]byte(y), "", nil, nil)
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.HasPrefix(ve.Problems[0].Message, "invalid YAML: ") {
			t.Errorf("Parse(%q) = %v, want one invalid-YAML problem", y, err)
		}
	}
	// An empty document is valid YAML; it fails only for want of upstreams.
	ps := problemsOf(t, "", nil)
	if len(ps) != 1 || ps["upstreams"] == "" {
		t.Errorf("empty document: %v", ps)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins", "pii.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "abs.wasm")
	if err := os.WriteFile(abs, []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "switchyard.yaml")
	yaml := minimalYAML + `
plugins:
  - { name: pii, kind: redact, wasm: plugins/pii.wasm, config: { entities: [email] } }
  - { name: near, kind: route, wasm: ` + abs + ` }
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENAI_API_KEY", "sk-file")
	t.Setenv("SWITCHYARD_LOG_LEVEL", "warn")
	flags := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	RegisterFlags(flags)
	if err := flags.Parse([]string{"--listen", "127.0.0.1:9999"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, flags)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Plugins[0].Wasm != filepath.Join(dir, "plugins", "pii.wasm") || c.Plugins[1].Wasm != abs {
		t.Errorf("plugin paths not resolved against the config's folder: %q %q", c.Plugins[0].Wasm, c.Plugins[1].Wasm)
	}
	if c.Upstreams[0].Auth.APIKey != "sk-file" || c.Log.Level != "warn" || c.Listen != "127.0.0.1:9999" {
		t.Errorf("layers: api_key set=%v log.level=%q listen=%q", c.Upstreams[0].Auth.APIKey != "", c.Log.Level, c.Listen)
	}
	js, err := c.PluginConfigJSON(0)
	if err != nil || string(js) != `{"entities":["email"]}` {
		t.Errorf("PluginConfigJSON(0) = %s, %v", js, err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"), nil)
	var ve *ValidationError
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &ve) {
		t.Errorf("Load(missing) = %v, want a not-exist error, not a ValidationError", err)
	}
}

// FuzzParse checks that no document makes Parse panic or fail with anything
// but a *ValidationError, and that what it accepts validates again.
func FuzzParse(f *testing.F) {
	f.Add(minimalYAML)
	f.Add("listen: [\n")
	f.Add("upstreams: {a: 1}\ncache: {models: {gpt-4.1: off}}")
	f.Add("plugins: [{config: {1: [2, {3: 4}]}}]\ntenants: [{keys: [~]}]")
	f.Add("limits: {max_body_bytes: 1.5GiB, read_timeout: 1e9}\npop: !!binary aGk=")
	if b, err := os.ReadFile("../../examples/configs/multicloud.yaml"); err == nil {
		f.Add(string(b))
	}
	env := fakeEnv(map[string]string{"OPENAI_API_KEY": "k", "SWITCHYARD_LOG_LEVEL": "debug"})
	f.Fuzz(func(t *testing.T, doc string) {
		c, err := Parse([]byte(doc), "", env, nil)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Parse error %T %v, want a non-empty *ValidationError", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		for i := range c.Plugins {
			if _, err := c.PluginConfigJSON(i); err != nil {
				t.Fatalf("PluginConfigJSON(%d): %v", i, err)
			}
		}
	})
}
