package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	envRef  = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	wasmRef = regexp.MustCompile(`wasm: ([^\s,}]+)`)
	// fullLineComment matches YAML comment lines, which may mention ${ENV} as prose.
	fullLineComment = regexp.MustCompile(`(?m)^\s*#.*$`)
)

// parseExample parses an example config the way a deployment would: every
// ${VAR} it references is set, and its plugin files exist beside it.
func parseExample(t *testing.T, yaml []byte) (*Config, map[string]string) {
	t.Helper()
	env := make(map[string]string)
	for _, m := range envRef.FindAllSubmatch(fullLineComment.ReplaceAll(yaml, nil), -1) {
		env[string(m[1])] = "value-of-" + string(m[1])
	}
	dir := t.TempDir()
	for _, m := range wasmRef.FindAllSubmatch(yaml, -1) {
		p := filepath.Join(dir, string(m[1]))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Parse(yaml, dir, fakeEnv(env), nil)
	if err != nil {
		t.Fatalf("example does not validate:\n%v", err)
	}
	return c, env
}

func TestMulticloudExample(t *testing.T) {
	yaml, err := os.ReadFile("../../examples/configs/multicloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, env := parseExample(t, yaml)
	providers := make(map[string]bool)
	for _, u := range c.Upstreams {
		providers[u.Provider] = true
	}
	if len(providers) != 4 {
		t.Errorf("providers %v, want all four", providers)
	}
	if got := c.Upstreams[0].BaseURL; got != "https://value-of-AZURE_OPENAI_RESOURCE.openai.azure.com" {
		t.Errorf("azure base_url = %q", got)
	}
	if got := c.Upstreams[3].BaseURL; got != "https://aiplatform.googleapis.com" {
		t.Errorf("vertex base_url = %q", got)
	}
	// No secret is written inline: every credential is a reference.
	for _, u := range c.Upstreams {
		a := u.Auth
		for _, s := range []string{a.APIKey, a.BearerToken, a.AccessKeyID, a.SecretAccessKey, a.SessionToken} {
			if s != "" && !strings.HasPrefix(s, "value-of-") {
				t.Errorf("%s: inline credential", u.Name)
			}
		}
	}

	// Without the environment, each reference is reported at its path.
	_, err = Parse(yaml, t.TempDir(), nil, nil)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse without env = %v", err)
	}
	for name := range env {
		if !strings.Contains(err.Error(), "environment variable "+name+" is not set") {
			t.Errorf("%s not reported as unset:\n%v", name, err)
		}
	}
}

func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Complete example")
	if !ok {
		t.Fatal("docs/config.md has no complete example")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, _ := strings.Cut(rest, "```")
	parseExample(t, []byte(block))
}

// TestDocsListEveryKey keeps docs/config.md complete: every key of the schema
// and every environment variable appears there.
func TestDocsListEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			path := prefix + f.Tag.Get("koanf")
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				walk(ft.Elem(), path+"[].")
				continue
			}
			if ft.Kind() == reflect.Struct && ft != durationType {
				walk(ft, path+".")
				continue
			}
			keys = append(keys, path)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	for name := range envPaths {
		keys = append(keys, name)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/config.md does not document `%s`", k)
		}
	}
}

func ExampleParse() {
	yaml := []byte(`
upstreams:
  - name: azure-eu
    provider: azure
    base_url: https://acme.openai.azure.com
    auth: { api_key: "${AZURE_OPENAI_API_KEY}" }
    models: { gpt-4.1: gpt41-prod }
  - name: bedrock-us
    provider: bedrock
    models: { gpt-oss-120b: "openai.gpt-oss-120b-1:0" }
cache: { policy: sometimes }
`)
	env := func(string) (string, bool) { return "", false } // nothing set
	_, err := Parse(yaml, "", env, nil)
	fmt.Println(err)
	// Output:
	// upstreams[0].auth.api_key: environment variable AZURE_OPENAI_API_KEY is not set
	// upstreams[1].region: required for provider bedrock, e.g. us-east-1
	// cache.policy: expected deterministic, always or off; got "sometimes"
}
