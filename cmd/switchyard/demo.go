package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/switchyard-dev/switchyard/internal/demo"
	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

const demoConfig = "examples/configs/demo.yaml"

func demoCmd(args []string, withRouter bool) error {
	fs := pflag.NewFlagSet("demo", pflag.ContinueOnError)
	path := fs.String("config", demoConfig, "config whose loopback upstreams get mock clouds")
	if withRouter {
		config.RegisterFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := os.Stat(*path); err != nil {
		return fmt.Errorf("%s not found: run this from the repository root (or pass --config)", *path)
	}
	var flags *pflag.FlagSet
	if withRouter {
		flags = fs
	}
	cfg, err := config.Load(*path, flags)
	if err != nil {
		return err
	}
	cleanup, err := demo.PointCredentialsAtMocks(cfg)
	if err != nil {
		return err
	}
	// Reloads (SIGHUP, the dashboard's POST /admin/reload) re-read the file
	// and point its credentials at the mocks again; every copy is removed
	// at exit (a generation still serving may read its own).
	var mu sync.Mutex
	cleanups := []func(){cleanup}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cleanups {
			c()
		}
	}()
	reload := func() (*config.Config, error) {
		next, err := config.Load(*path, flags)
		if err != nil {
			return nil, err
		}
		c, err := demo.PointCredentialsAtMocks(next)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		cleanups = append(cleanups, c)
		mu.Unlock()
		return next, nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ready := make(chan []*mockcloud.Server, 1)
	mockErr := make(chan error, 1)
	go func() { mockErr <- demo.RunMocks(ctx, cfg, func(s []*mockcloud.Server) { ready <- s }) }()
	select {
	case servers := <-ready:
		for _, s := range servers {
			fmt.Printf("mock cloud listening on %s\n", s.URL())
		}
	case err := <-mockErr:
		return fmt.Errorf("mock clouds: %w", err)
	}
	if !withRouter {
		<-ctx.Done()
		return nil
	}
	return run(ctx, cfg, reload, func(addr, admin string) { printDemoHelp(addr, admin, cfg) })
}

func demoMain(args []string) error { return demoCmd(args, true) }
func mock(args []string) error     { return demoCmd(args, false) }

func printDemoHelp(addr, admin string, cfg *config.Config) {
	fmt.Printf(`
Switchyard demo is running on http://%s — mock clouds on loopback, example plugins loaded.
Models: %v

  curl -s http://%[1]s/v1/chat/completions -H 'content-type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello from the edge"}]}'

  curl -sN http://%[1]s/v1/chat/completions -H 'content-type: application/json' \
    -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Stream please"}]}'

Add -i to see x-switchyard-upstream / x-switchyard-provider / x-switchyard-cache. Ctrl-C stops.
`, addr, cfg.Models())
	if admin != "" {
		// The token rides in the URL fragment, which the browser never sends.
		fmt.Printf(`
Dashboard (live traffic, upstream health, cache, plugins): http://%s/dashboard/#token=%s
Admin API: curl -s http://%[1]s/admin/upstreams -H 'Authorization: Bearer %[2]s'
`, admin, cfg.Admin.Token)
	}
}
