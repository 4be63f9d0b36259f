// Package wire connects the router core to the parts it must not import: the
// cloud adapters (each with its cloud's SDK) and the Wasm plugin runtime. The
// command uses it, and so do the end-to-end tests and benchmarks, so that they
// run exactly what the binary runs.
package wire

import (
	"context"
	"log/slog"
	"time"

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
	// OnPluginChange is called (on its own goroutine) after a changed plugin
	// file was loaded: the command rebuilds the router's generation with it
	// (router.Instance.Reload), the one reload path.
	OnPluginChange func()
	// Reload re-reads the config (as SIGHUP does) for the admin API's
	// POST /admin/reload; nil answers it with 501.
	Reload func() (*config.Config, error)
}

// Router returns the wiring for router.New.
func Router(o Options) router.Wiring {
	return router.Wiring{Logger: o.Logger, Adapter: Adapter, Plugins: newPluginHost(o), ReloadConfig: o.Reload}
}
