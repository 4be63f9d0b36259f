package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/switchyard-dev/switchyard/internal/plugintmpl"
	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/conformance"
	"github.com/switchyard-dev/switchyard/plugins/wasm"
)

// loadForCheck loads a module with the host's own checks (ABI v1 exports and
// signatures, imports, fuel rewrite, init): the one place plugin build and
// plugin test --conformance call the Wasm loader. maxFuel 0 = the default.
func loadForCheck(ctx context.Context, path, kind string, maxFuel int64, log io.Writer) (*wasm.Plugin, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".wasm")
	c := wasm.Config{Name: name, Wasm: path, PoolSize: 1, BaseFuel: maxFuel}
	if kind != "" {
		k, err := plugins.ParseKind(kind)
		if err != nil {
			return nil, err
		}
		c.Kind = k
	}
	return wasm.Load(ctx, c, wasm.Options{Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}

// pluginBuild runs `switchyard plugin build [DIR]`.
func pluginBuild(args []string) error {
	fs := pflag.NewFlagSet("plugin build", pflag.ContinueOnError)
	lang := fs.String("lang", "", "the project's language (default: detected)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return errors.New("usage: switchyard plugin build [--lang L] [DIR]")
	}
	dir := "."
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if *lang == "" {
		if *lang, err = plugintmpl.Detect(dir); err != nil {
			return err
		}
	}
	ctx := context.Background()
	out, err := plugintmpl.Build(ctx, dir, *lang, os.Stderr)
	if err != nil {
		return err
	}
	p, err := loadForCheck(ctx, out, "", 0, os.Stderr)
	if err != nil {
		return fmt.Errorf("built %s, but it is not a valid ABI v1 plugin: %w", out, err)
	}
	defer p.Close()
	fi, _ := os.Stat(out)
	fmt.Printf("built %s: %s %s (%s), %d bytes, ABI v1 checks passed\n", out, p.ModuleName(), p.Version(), p.Kinds(), fi.Size())
	return nil
}

// pluginConformance runs `switchyard plugin test --conformance [--behaviour B] [FILE.wasm]`.
func pluginConformance(args []string) error {
	fs := pflag.NewFlagSet("plugin test --conformance", pflag.ContinueOnError)
	fs.Bool("conformance", true, "run the shared conformance vectors (plugins/conformance)")
	behaviour := fs.String("behaviour", "", "check the exact outputs of this behaviour (default: the module's plugin_name, if the vectors know it)")
	kind := fs.String("kind", "", "route or redact; default: every hook the module serves")
	fuel := fs.Int64("max-fuel", 0, "CPU budget per call (default: the host's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return errors.New("usage: switchyard plugin test --conformance [--behaviour B] [FILE.wasm]")
	}
	path := "plugin.wasm"
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	v, err := conformance.Load()
	if err != nil {
		return err
	}
	if *behaviour != "" && !slices.Contains(v.Behaviours(), *behaviour) {
		return fmt.Errorf("--behaviour %q: the vectors know %v", *behaviour, v.Behaviours())
	}
	ctx := context.Background()
	p, err := loadForCheck(ctx, path, *kind, *fuel, os.Stderr)
	if err != nil {
		return err
	}
	defer p.Close()
	rep := conformance.Run(ctx, p, v, *behaviour)
	rep.WriteTo(os.Stdout)
	if n := len(rep.Failed()); n > 0 {
		return fmt.Errorf("conformance: %d of %d vectors failed", n, len(rep.Results))
	}
	return nil
}
