// Command price-router is a native Switchyard routing plugin: it sends each
// request to the cheapest healthy upstream, with the others as fallbacks in
// price order, using per-region prices from a JSON file that it watches and
// reloads when it changes. The router starts it (plugins/native); run by
// hand it only says that it is a plugin.
//
// Its config (the plugin entry's `config:` in the router's config):
//
//	prices_file:            path of the prices file (see Prices), required;
//	                        relative paths are relative to the router's
//	                        working directory
//	expected_output_tokens: output tokens assumed per request when weighing
//	                        input against output prices; default 256
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/native/sdk"
)

type config struct {
	PricesFile           string `json:"prices_file"`
	ExpectedOutputTokens int    `json:"expected_output_tokens"`
}

// router is the plugin. The prices are swapped whole when the file changes,
// so a Route call never sees half a file.
type router struct {
	file      string
	outTokens int
	prices    atomic.Pointer[Prices]
}

func (r *router) init(raw []byte) error {
	var c config
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	if c.PricesFile == "" {
		return errors.New("price-router: config needs prices_file")
	}
	if c.ExpectedOutputTokens < 0 {
		return errors.New("price-router: expected_output_tokens is negative")
	}
	r.outTokens = c.ExpectedOutputTokens
	if r.outTokens == 0 {
		r.outTokens = 256
	}
	abs, err := filepath.Abs(c.PricesFile)
	if err != nil {
		return err
	}
	r.file = abs
	p, err := readPrices(abs)
	if err != nil {
		return err
	}
	r.prices.Store(p)
	log.Printf("price-router: loaded prices for %d regions and %d upstreams", len(p.Regions), len(p.Upstreams))
	return r.watch()
}

// watch reloads the prices when the file is written, replaced or renamed
// into place. The directory is watched, not the file: editors and
// deployment tools replace files, which ends a watch on the file itself.
func (r *router) watch() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(filepath.Dir(r.file)); err != nil {
		w.Close()
		return err
	}
	go func() {
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) != r.file || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
					continue
				}
				p, err := readPrices(r.file)
				if err != nil {
					// A half-written file is common; the next event brings
					// the whole one. Keep serving the old prices.
					log.Printf("price-router: prices file not loaded, keeping the previous prices: %v", err)
					continue
				}
				r.prices.Store(p)
				log.Printf("price-router: reloaded prices for %d regions and %d upstreams", len(p.Regions), len(p.Upstreams))
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Printf("price-router: watching the prices file: %v", err)
			}
		}
	}()
	return nil
}

func (r *router) Route(_ context.Context, req *plugins.Request, ups []plugins.Upstream, dst []int) ([]int, error) {
	return r.prices.Load().cheapest(dst, ups, int(req.PromptTokens), r.outTokens), nil
}

func main() {
	log.SetOutput(os.Stderr)
	log.SetFlags(0)
	r := &router{}
	sdk.Serve(sdk.Plugin{Name: "price-router", Version: "1.0.0", Init: r.init, Router: r})
}
