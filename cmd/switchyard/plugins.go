package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/switchyard-dev/switchyard/plugins/plugintest"
)

// pluginCacheDir is wazero's on-disk compilation cache: a restart (or a
// reload of an unchanged module) skips compiling. "" when there is no
// user cache directory.
func pluginCacheDir() string {
	if d := os.Getenv("SWITCHYARD_PLUGIN_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "switchyard", "wazero")
}

// plugin runs `switchyard plugin test FILE.wasm --request req.json [--upstreams ups.json]`.
func plugin(args []string) error {
	if len(args) == 0 || args[0] != "test" {
		return errors.New("usage: switchyard plugin test FILE.wasm --request req.json [--upstreams ups.json] [--config plugin.json] [--kind route|redact]")
	}
	fs := pflag.NewFlagSet("plugin test", pflag.ContinueOnError)
	reqPath := fs.String("request", "", "request body (JSON) the plugin sees")
	upsPath := fs.String("upstreams", "", "upstream table (JSON array); default: a sample table")
	cfgPath := fs.String("config", "", "the plugin's config (JSON object), as under plugins[].config")
	kind := fs.String("kind", "", "route or redact; default: every hook the module serves")
	runs := fs.Int("runs", 100, "timed calls per hook")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 || *reqPath == "" {
		return errors.New("plugin test: need FILE.wasm and --request req.json")
	}
	o := plugintest.Options{Wasm: fs.Arg(0), Kind: *kind, Runs: *runs, CacheDir: pluginCacheDir(), Log: os.Stderr}
	var err error
	if o.Request, err = os.ReadFile(*reqPath); err != nil {
		return err
	}
	if *upsPath != "" {
		if o.Upstreams, err = os.ReadFile(*upsPath); err != nil {
			return err
		}
	}
	if *cfgPath != "" {
		b, err := os.ReadFile(*cfgPath)
		if err != nil {
			return err
		}
		if _, err = parseJSONObject(b); err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		o.Config = b
	}
	return plugintest.Run(context.Background(), os.Stdout, o)
}
