package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/switchyard-dev/switchyard/internal/plugintmpl"
)

// pluginDispatch routes `switchyard plugin …`: new and build, test with
// --conformance, and everything else to plugin (plugins.go).
func pluginDispatch(args []string) error {
	switch {
	case len(args) > 0 && args[0] == "new":
		return pluginNew(args[1:])
	case len(args) > 0 && args[0] == "build":
		return pluginBuild(args[1:])
	case len(args) > 0 && args[0] == "test" && slices.Contains(args, "--conformance"):
		return pluginConformance(args[1:])
	}
	return plugin(args)
}

const pluginNewUsage = "usage: switchyard plugin new --lang go|rust|c|assemblyscript|wat --kind route|redact [--dir DIR] [--sdk CHECKOUT] NAME"

// pluginNew runs `switchyard plugin new --lang L --kind K NAME`.
func pluginNew(args []string) error {
	fs := pflag.NewFlagSet("plugin new", pflag.ContinueOnError)
	lang := fs.String("lang", "", "go, rust, c, assemblyscript or wat")
	kind := fs.String("kind", "route", "route or redact")
	dir := fs.String("dir", "", "where to write the project (default NAME)")
	root := fs.String("sdk", "", "the Switchyard checkout whose SDKs the project uses (default: found above the project or the working directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *lang == "" {
		return errors.New(pluginNewUsage)
	}
	out, err := plugintmpl.New(plugintmpl.Options{Lang: *lang, Kind: *kind, Name: fs.Arg(0), Dir: *dir, Root: *root})
	if err != nil {
		return err
	}
	rel := out
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, out); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	fmt.Printf("wrote a %s %s plugin in %s; next:\n\n  cd %s\n  switchyard plugin build\n  switchyard plugin test --conformance plugin.wasm\n\n(%s/README.md has the rest)\n",
		*lang, *kind, rel, rel, rel)
	return nil
}
