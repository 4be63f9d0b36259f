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
	"reflect"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/switchyard-dev/switchyard/plugins/wasm"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/config"
)

// reloadGrace bounds how long a replaced config keeps serving the requests
// and streams it already had.
const reloadGrace = 10 * time.Minute

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

// instance is what one process serves: the live router, and the parts that
// outlive a config reload (plugin runtime, response cache).
type instance struct {
	log     *slog.Logger
	cfg     *config.Config
	plugins *pluginSet // nil until a config has plugins
	cache   *cache.Cache
	live    *router.Live
}

// build makes a router for cfg with the instance's plugin runtime and cache,
// creating or replacing those as cfg needs. It changes nothing that serves
// until it succeeds: the new router is returned, not swapped in.
func (in *instance) build(ctx context.Context, cfg *config.Config) (srv *router.Server, commit, undo func(), err error) {
	undo = func() {}
	c := in.cache
	if !router.CachingUsed(cfg) {
		c = nil
	} else if c == nil || in.cfg == nil || !reflect.DeepEqual(in.cfg.Cache, cfg.Cache) {
		if c, err = cache.New(cfg.Cache); err != nil {
			return nil, nil, nil, err
		}
		fresh := c
		undo = func() { fresh.Close() }
	}
	var host router.PluginHost
	if in.plugins != nil {
		host = in.plugins
	} else if len(cfg.Plugins) > 0 {
		set, err := newPluginSet(ctx, cfg.Plugins, wasm.Options{CacheDir: pluginCacheDir(), Logger: in.log})
		if err != nil {
			undo()
			return nil, nil, nil, err
		}
		in.plugins, host = set, set
		prev := undo
		undo = func() { prev(); set.Close(); in.plugins = nil }
	}
	srv, err = router.New(cfg, router.Options{Logger: in.log, Build: router.BuildAdapter, Plugins: host, Cache: c})
	if err != nil {
		undo()
		return nil, nil, nil, err
	}
	return srv, func() { in.cache = c }, undo, nil
}

// reload builds cfg and swaps it in; on any error the old config keeps serving.
func (in *instance) reload(ctx context.Context, cfg *config.Config) error {
	hadPlugins := in.plugins != nil
	srv, commit, undo, err := in.build(ctx, cfg)
	if err != nil {
		return err
	}
	if hadPlugins { // a Set that already served: reload its modules atomically
		if err := in.plugins.Reload(cfg.Plugins); err != nil {
			srv.Retire(context.Background())
			undo()
			return err
		}
	}
	oldCache := in.cache
	commit()
	in.cfg = cfg
	in.live.Swap(srv, reloadGrace)
	if oldCache != nil && oldCache != in.cache {
		time.AfterFunc(reloadGrace, func() { oldCache.Close() })
	}
	return nil
}

// run serves cfg until ctx is done. reload, when set, re-reads the config on
// SIGHUP. onListen, when set, is called with the bound address.
func run(ctx context.Context, cfg *config.Config, reload func() (*config.Config, error), onListen func(addr string)) error {
	in := &instance{log: newLogger(cfg.Log.Level)}
	log := in.log
	srv, commit, _, err := in.build(ctx, cfg)
	if err != nil {
		return err
	}
	commit()
	in.cfg = cfg
	in.live = router.NewLive(srv)
	defer func() {
		if in.plugins != nil {
			in.plugins.Close()
		}
		if in.cache != nil {
			in.cache.Close()
		}
	}()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		srv.Retire(ctx)
		return err
	}
	if cfg.Pprof != "" {
		go servePprof(cfg.Pprof, log)
	}
	errc := make(chan error, 1)
	go func() { errc <- in.live.Serve(ln) }()
	hup := make(chan os.Signal, 1)
	if reload != nil {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	log.Info("switchyard listening", "addr", ln.Addr().String(), "upstreams", len(cfg.Upstreams), "plugins", len(cfg.Plugins))
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	for {
		select {
		case err := <-errc:
			return err
		case <-hup:
			next, err := reload()
			if err == nil {
				err = in.reload(ctx, next)
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
			return in.live.Close(shutdown)
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
