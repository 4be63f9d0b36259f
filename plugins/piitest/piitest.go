// Package piitest measures the redact-pii plugin (examples/plugins/rust/
// redact-pii): a labelled corpus (plugins/testdata/pii), the request bodies
// its samples are put in, a scorer, the benchmarks, and the naive baseline
// the benchmarks compare the plugin with (a plain Go regexp redactor).
//
// The corpus's generated part is made by Generate with a fixed seed and
// written by `go run ./plugins/piitest/gencorpus`; a test regenerates it and
// compares, so the committed file always matches its generator.
package piitest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/wasm"
)

// PluginPath is the committed, reproducibly built redact-pii module,
// relative to this package's directory (go test's working directory).
var PluginPath = filepath.Join("..", "..", "examples", "plugins", "rust", "redact-pii", "plugin.wasm")

// LoadOptions tune LoadPlugin. The zero value is the router's defaults.
type LoadOptions struct {
	MaxFuel  int64 // CPU budget per call; 0 = the host's default
	PoolSize int   // prewarmed instances; 0 = 1
}

// LoadPlugin loads the Wasm module at path as a redaction plugin with the
// given plugin config, through the real host (plugins/wasm), logging nowhere.
// It is the only place this package touches the loader's API, so that a
// change of that API is one edit here. The caller closes the plugin.
func LoadPlugin(ctx context.Context, path string, cfg map[string]any, o LoadOptions) (*wasm.Plugin, error) {
	if o.PoolSize <= 0 {
		o.PoolSize = 1
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return wasm.Load(ctx, wasm.Config{
		Name:       "redact-pii",
		Kind:       plugins.KindRedact,
		Wasm:       path,
		OnError:    plugins.OnErrorClosed,
		InitConfig: js,
		BaseFuel:   o.MaxFuel,
		PoolSize:   o.PoolSize,
	}, wasm.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: -1})
}

// ScorerConfig is the plugin config the corpus is scored with: every
// built-in entity, the corpus's tenant dictionary and its tenant pattern.
func ScorerConfig(terms []string) map[string]any {
	t := make([]any, len(terms))
	for i, s := range terms {
		t[i] = s
	}
	return map[string]any{
		"entities": []any{"email", "phone", "card", "iban", "ssn", "ip", "jwt", "secret"},
		"terms":    t,
		"patterns": []any{TenantPattern},
	}
}

// TenantPattern is the corpus's tenant pattern: employee ids.
const TenantPattern = `\bEMP-[0-9]{6}\b`
