// Package wire connects the router core to the parts it must not import: the
// cloud adapters (each with its cloud's SDK) and the Wasm plugin runtime. The
// command uses it, and so do the end-to-end tests and benchmarks, so that they
// run exactly what the binary runs.
package wire

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/wasm"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/provider/azure"
	"github.com/switchyard-dev/switchyard/router/provider/bedrock"
	"github.com/switchyard-dev/switchyard/router/provider/openai"
	"github.com/switchyard-dev/switchyard/router/provider/vertex"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// Adapter makes the adapter for one upstream by its provider name, with the
// operator's Responses mode (upstreams[].responses) applied when set.
func Adapter(u provider.Upstream) (provider.Adapter, error) {
	mode, def, err := provider.ParseResponsesMode(u.Responses)
	if err != nil {
		return nil, err
	}
	a, err := adapter(u)
	if err != nil || def {
		return a, err
	}
	return provider.WithResponsesMode(a, mode), nil
}

func adapter(u provider.Upstream) (provider.Adapter, error) {
	switch u.Provider {
	case "openai":
		return openai.New(u)
	case "azure":
		return azure.New(u)
	case "bedrock":
		return bedrock.New(u)
	case "vertex":
		// The token refresher lives until the adapter is closed, not for the
		// duration of a context.
		return vertex.New(context.Background(), u)
	}
	return nil, upstream.ErrUnknownProvider
}

// Options configure the wiring.
type Options struct {
	Logger *slog.Logger
	// PluginCacheDir is wazero's on-disk compilation cache ("" = none).
	PluginCacheDir string
	// PluginPoll is how often plugin files are checked for changes (0 = 1s,
	// negative = never).
	PluginPoll time.Duration
	// Reload re-reads the config (as SIGHUP does) for the admin API's
	// POST /admin/reload; nil answers it with 501.
	Reload func() (*config.Config, error)
}

// Router returns the wiring for router.New.
func Router(o Options) router.Wiring {
	return router.Wiring{Logger: o.Logger, Adapter: Adapter, Plugins: &wasmHost{opts: o}, ReloadConfig: o.Reload}
}

// wasmHost is the process's Wasm plugin runtime: one wasm.Set, built from the
// first config that lists plugins.
type wasmHost struct {
	opts Options
	mu   sync.Mutex
	set  *wasm.Set
}

// Chains builds a generation's chains. The Set loads only the plugins whose
// config or file changed, and closes the ones no longer listed once their
// calls in flight return.
func (h *wasmHost) Chains(ctx context.Context, ps []config.Plugin) (router.Chains, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set == nil {
		set, err := wasm.NewSet(ctx, ps, wasm.Options{CacheDir: h.opts.PluginCacheDir, Logger: h.opts.Logger, PollInterval: h.opts.PluginPoll})
		if err != nil {
			return nil, err
		}
		h.set = set
	} else if err := h.set.Reload(ps); err != nil {
		return nil, err
	}
	return chains{h.set}, nil
}

func (h *wasmHost) Healthy() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set == nil {
		return nil
	}
	return h.set.Healthy()
}

func (h *wasmHost) AppendMetrics(b []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set == nil {
		return b
	}
	return h.set.AppendMetrics(b)
}

func (h *wasmHost) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.set == nil {
		return nil
	}
	return h.set.Close()
}

type chains struct{ s *wasm.Set }

func (c chains) Router(names []string) plugins.Router {
	if r := c.s.Router(names); !empty(r) {
		return r
	}
	return nil
}

func (c chains) Redactor(names []string) plugins.Redactor {
	if r := c.s.Redactor(names); !empty(r) {
		return r
	}
	return nil
}

func (chains) Close() error { return nil }

func empty(chain any) bool {
	e, ok := chain.(interface{ Empty() bool })
	return ok && e.Empty()
}
