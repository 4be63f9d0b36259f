package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

// loadPlugins builds the plugin runtime for cfg. It returns a nil host when
// the config has no plugins.
func loadPlugins(ctx context.Context, cfg *config.Config, log *slog.Logger) (router.PluginHost, func(), error) {
	if len(cfg.Plugins) == 0 {
		return nil, func() {}, nil
	}
	return nil, nil, errors.New("plugins are not wired yet")
}

func plugin(args []string) error { return errors.New("plugin: not wired yet") }
