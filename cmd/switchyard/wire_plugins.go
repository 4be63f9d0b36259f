package main

import (
	"context"
	"fmt"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/wasm"
	"github.com/switchyard-dev/switchyard/router/config"
)

// wasmPluginConfigs maps the YAML's plugins onto the host's package-local
// configs. Fields the YAML leaves out stay zero, so their defaults are
// plugins/wasm's; kind and on_error are parsed here, once.
func wasmPluginConfigs(ps []config.Plugin) ([]wasm.Config, error) {
	holder := config.Config{Plugins: ps} // for PluginConfigJSON's YAML → JSON rules
	out := make([]wasm.Config, len(ps))
	for i, p := range ps {
		var err error
		c := wasm.Config{
			Name:      p.Name,
			Wasm:      p.Wasm,
			BaseFuel:  p.MaxFuel,
			MaxMemory: int64(p.MaxMemory),
			PoolSize:  p.PoolSize,
			MaxCalls:  p.MaxCalls,
		}
		if p.Kind != "" {
			if c.Kind, err = plugins.ParseKind(p.Kind); err != nil {
				return nil, fmt.Errorf("plugins[%d].kind: %w", i, err)
			}
		}
		if c.OnError, err = plugins.ParseOnError(p.OnError); err != nil {
			return nil, fmt.Errorf("plugins[%d].on_error: %w", i, err)
		}
		if c.InitConfig, err = holder.PluginConfigJSON(i); err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// pluginSet is the plugin host as this command wires it: a wasm.Set fed from
// router/config. Its Router and Redactor return the chains as the router's
// PluginHost declares them today; the chains still have Empty, and
// AppendMetrics renders the Set's Stats. Once the router takes a
// plugins.Host, pass the *wasm.Set itself and drop this adapter.
type pluginSet struct{ *wasm.Set }

func newPluginSet(ctx context.Context, ps []config.Plugin, opts wasm.Options) (*pluginSet, error) {
	cs, err := wasmPluginConfigs(ps)
	if err != nil {
		return nil, err
	}
	s, err := wasm.NewSet(ctx, cs, opts)
	if err != nil {
		return nil, err
	}
	return &pluginSet{s}, nil
}

// Reload maps ps and reloads the set (see wasm.Set.Reload).
func (s *pluginSet) Reload(ps []config.Plugin) error {
	cs, err := wasmPluginConfigs(ps)
	if err != nil {
		return err
	}
	return s.Set.Reload(cs)
}

func (s *pluginSet) Router(names []string) plugins.Router     { return s.Set.Router(names) }
func (s *pluginSet) Redactor(names []string) plugins.Redactor { return s.Set.Redactor(names) }

// AppendMetrics renders the plugins' counters for the router's /metrics.
func (s *pluginSet) AppendMetrics(b []byte) []byte { return plugins.AppendMetrics(b, s.Stats(nil)) }
