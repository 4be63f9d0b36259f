package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/switchyard-dev/switchyard/internal/wire"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
)

func serve(args []string) error {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	path := fs.String("config", "", "config file (YAML); SIGHUP reloads it")
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("serve: --config FILE is required")
	}
	cfg, err := config.Load(*path, fs)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reload := func() (*config.Config, error) { return config.Load(*path, fs) }
	return run(ctx, cfg, reload, nil)
}

func validate(args []string) error {
	fs := pflag.NewFlagSet("validate", pflag.ContinueOnError)
	path := fs.String("config", "", "config file (YAML)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("validate: --config FILE is required")
	}
	cfg, err := config.Load(*path, nil)
	if err != nil {
		return err
	}
	fmt.Printf("%s: valid (%d upstreams, %d models, %d plugins)\n", *path, len(cfg.Upstreams), len(cfg.Models()), len(cfg.Plugins))
	return nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// run serves cfg until ctx is done. reload, when set, re-reads the config on
// SIGHUP (and on the admin API's POST /admin/reload) and hands it to the
// router, which swaps it in or refuses it. onListen, when set, is called with
// the bound address and the admin listener's ("" without one).
func run(ctx context.Context, cfg *config.Config, reload func() (*config.Config, error), onListen func(addr, admin string)) error {
	log := newLogger(cfg.Log.Level)
	var cur atomic.Pointer[router.Instance]
	rebuild := func() { // a plugin file changed: build a generation with it
		if in := cur.Load(); in != nil {
			if err := in.Reload(ctx, in.Current().Config()); err != nil {
				log.Error("plugin file reload refused; the previous modules keep serving", "err", err)
			}
		}
	}
	in, err := router.New(cfg, wire.Router(wire.Options{Logger: log, PluginCacheDir: pluginCacheDir(), OnPluginChange: rebuild, Reload: reload}))
	if err != nil {
		return err
	}
	cur.Store(in)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		in.Close(ctx)
		return err
	}
	if cfg.Pprof != "" {
		go servePprof(cfg.Pprof, log)
	}
	errc := make(chan error, 1)
	go func() { errc <- in.Serve(ln) }()
	hup := make(chan os.Signal, 1)
	if reload != nil {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	log.Info("switchyard listening", "addr", ln.Addr().String(), "upstreams", len(cfg.Upstreams), "plugins", len(cfg.Plugins))
	if onListen != nil {
		onListen(ln.Addr().String(), in.AdminAddr())
	}
	for {
		select {
		case err := <-errc:
			return err
		case <-hup:
			next, err := reload()
			if err == nil {
				err = in.Reload(ctx, next)
			}
			if err != nil {
				log.Error("reload refused; the previous config keeps serving", "err", err)
				continue
			}
			log.Info("config reloaded", "upstreams", len(next.Upstreams), "plugins", len(next.Plugins))
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			log.Info("switchyard shutting down")
			return in.Close(shutdown)
		}
	}
}

// servePprof serves the Go profiler on its own listener, never on the
// client-facing one.
func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pprof listening", "addr", addr)
	if err := (&http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}).ListenAndServe(); err != nil {
		log.Error("pprof", "err", err)
	}
}
