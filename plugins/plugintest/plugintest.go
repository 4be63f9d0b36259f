// Package plugintest is the logic behind `switchyard plugin test FILE.wasm
// --request req.json [--upstreams ups.json]`, the plugin author's inner loop:
// load a module as the router would, run its hooks on one request, and print
// the decision or the redacted body with its vault entries, and the time each
// step took. cmd/switchyard parses the flags and calls Run.
package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/wasm"
)

// ErrBadInput reports a request or upstream file that does not parse.
var ErrBadInput = errors.New("plugintest: bad input")

// Options are the inputs of one test run.
type Options struct {
	Wasm      string // the module's path
	Request   []byte // req.json: an OpenAI chat completions request body
	Upstreams []byte // ups.json: a JSON array of Upstream; nil = SampleUpstreams
	Config    []byte // the plugin's config as a JSON object, as under plugins[].config; nil = {}
	Kind      string // "route", "redact" or ""; "" runs every hook the module serves
	Tenant    string // default "default"
	PoP       PoP    // default {test, local}
	CacheDir  string // wazero compilation cache; "" = none
	Runs      int    // timed calls per hook after the first; default 100
	// Log receives the plugin's own log lines (switchyard.log, stderr); nil = discarded.
	Log io.Writer
}

// PoP is the point of presence the request view names.
type PoP struct{ Name, Region string }

// Upstream is one row of ups.json. Latencies are in milliseconds for
// convenience; prices are per million tokens.
type Upstream struct {
	Name      string  `json:"name"`
	Provider  string  `json:"provider"`
	Region    string  `json:"region"`
	Healthy   *bool   `json:"healthy"` // default true
	LatencyMS float64 `json:"latency_ms"`
	TTFBMS    float64 `json:"ttfb_ms"`
	InFlight  uint32  `json:"in_flight"`
	ErrorRate float32 `json:"error_rate"`
	PriceIn   float32 `json:"price_in"`
	PriceOut  float32 `json:"price_out"`
	Weight    uint32  `json:"weight"`
}

// SampleUpstreams is the table used without --upstreams.
const SampleUpstreams = `[
  {"name":"azure-eu","provider":"azure","region":"westeurope","latency_ms":900,"ttfb_ms":300,"price_in":1.25,"price_out":10,"weight":1},
  {"name":"bedrock-us","provider":"bedrock","region":"us-east-1","latency_ms":700,"ttfb_ms":200,"price_in":0.15,"price_out":0.6,"weight":1},
  {"name":"vertex-eu","provider":"vertex","region":"europe-west4","healthy":false,"latency_ms":600,"ttfb_ms":150,"price_in":0.1,"price_out":0.4,"weight":1}
]`

// Run loads the module, runs its hooks and writes a report to w. It returns
// an error if the module does not load, an input does not parse, or a hook
// fails (the report says how, as the router's policy would see it).
func Run(ctx context.Context, w io.Writer, o Options) error {
	req, err := requestView(o)
	if err != nil {
		return err
	}
	upsJSON := o.Upstreams
	if upsJSON == nil {
		upsJSON = []byte(SampleUpstreams)
	}
	ups, err := parseUpstreams(upsJSON)
	if err != nil {
		return err
	}
	runs := o.Runs
	if runs <= 0 {
		runs = 100
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	name := strings.TrimSuffix(filepath.Base(o.Wasm), ".wasm")
	var kind plugins.Kind
	if o.Kind != "" {
		if kind, err = plugins.ParseKind(o.Kind); err != nil {
			return fmt.Errorf("%w: %w", ErrBadInput, err)
		}
	}
	if o.Config != nil && !json.Valid(o.Config) {
		return fmt.Errorf("%w: the plugin config is not JSON", ErrBadInput)
	}
	t0 := time.Now()
	p, err := wasm.Load(ctx, wasm.Config{Name: name, Kind: kind, Wasm: o.Wasm, InitConfig: o.Config, PoolSize: 1},
		wasm.Options{CacheDir: o.CacheDir, Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Fprintf(w, "plugin   %s %s (%s), fuel %v, loaded in %s\n", p.ModuleName(), p.Version(), p.Kinds(), p.Fueled(), round(time.Since(t0)))

	var failed error
	if p.Kinds().Has(plugins.KindRoute) {
		failed = errors.Join(failed, runRoute(ctx, w, p, req, ups, runs))
	}
	if p.Kinds().Has(plugins.KindRedact) {
		failed = errors.Join(failed, runRedact(ctx, w, p, o.Request, runs))
	}
	return failed
}

func runRoute(ctx context.Context, w io.Writer, p *wasm.Plugin, req *plugins.Request, ups []plugins.Upstream, runs int) error {
	t0 := time.Now()
	got, err := p.Route(ctx, req, ups, nil)
	first := time.Since(t0)
	if err != nil {
		fmt.Fprintf(w, "route    FAILED after %s: %v (%s)\n", round(first), err, wasm.Reason(err))
		return err
	}
	med := median(runs, func() { p.Route(ctx, req, ups, got[:0]) })
	if len(got) == 0 {
		fmt.Fprintf(w, "route    no opinion (the configured default order applies)\n")
	} else {
		names := make([]string, len(got))
		for i, idx := range got {
			names[i] = ups[idx].Name
		}
		fmt.Fprintf(w, "route    %s\n", strings.Join(names, " > "))
	}
	fmt.Fprintf(w, "         first call %s, median of %d calls %s\n", round(first), runs, round(med))
	return nil
}

func runRedact(ctx context.Context, w io.Writer, p *wasm.Plugin, body []byte, runs int) error {
	v := plugins.AcquireVault()
	defer plugins.ReleaseVault(v)
	t0 := time.Now()
	out, err := p.Redact(ctx, body, nil, v)
	first := time.Since(t0)
	if err != nil {
		fmt.Fprintf(w, "redact   FAILED after %s: %v (%s)\n", round(first), err, wasm.Reason(err))
		return err
	}
	scratch := plugins.AcquireVault()
	defer plugins.ReleaseVault(scratch)
	var dst []byte
	med := median(runs, func() {
		scratch.Reset()
		dst, _ = p.Redact(ctx, body, dst[:0], scratch)
	})
	if len(out) == 0 {
		fmt.Fprintf(w, "redact   nothing matched (the body is sent as is)\n")
	} else {
		fmt.Fprintf(w, "redact   %d placeholder(s)\n", v.Len())
		for i := range v.Len() {
			ph, orig := v.Pair(i)
			fmt.Fprintf(w, "         %s = %q\n", ph, orig)
		}
		fmt.Fprintf(w, "body     %s\n", out)
	}
	fmt.Fprintf(w, "         first call %s, median of %d calls %s\n", round(first), runs, round(med))
	return nil
}

func median(n int, f func()) time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		t0 := time.Now()
		f()
		d[i] = time.Since(t0)
	}
	slices.Sort(d)
	return d[n/2]
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(10 * time.Nanosecond)
}

// requestView builds the routing view of req.json as the router would.
func requestView(o Options) (*plugins.Request, error) {
	var body struct {
		Model       string   `json:"model"`
		Stream      bool     `json:"stream"`
		Temperature *float64 `json:"temperature"`
		Seed        *int64   `json:"seed"`
	}
	if err := json.Unmarshal(o.Request, &body); err != nil {
		return nil, fmt.Errorf("%w: request: %w", ErrBadInput, err)
	}
	r := &plugins.Request{
		Model:         []byte(body.Model),
		Tenant:        o.Tenant,
		Path:          "/v1/chat/completions",
		PoP:           o.PoP.Name,
		Region:        o.PoP.Region,
		Stream:        body.Stream,
		Deterministic: (body.Temperature != nil && *body.Temperature == 0) || body.Seed != nil,
		PromptTokens:  int32(len(o.Request) / 4),
		Headers:       []plugins.Header{{Name: []byte("user-agent"), Value: []byte("switchyard-plugin-test")}},
	}
	if r.Tenant == "" {
		r.Tenant = "default"
	}
	if r.PoP == "" && r.Region == "" {
		r.PoP, r.Region = "test", "local"
	}
	return r, nil
}

func parseUpstreams(b []byte) ([]plugins.Upstream, error) {
	var rows []Upstream
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("%w: upstreams: %w", ErrBadInput, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: upstreams: empty table", ErrBadInput)
	}
	ups := make([]plugins.Upstream, len(rows))
	for i, u := range rows {
		ups[i] = plugins.Upstream{
			Name: u.Name, Provider: u.Provider, Region: u.Region, Healthy: u.Healthy == nil || *u.Healthy,
			LatencyUS: uint32(u.LatencyMS * 1000), TTFBUS: uint32(u.TTFBMS * 1000), InFlight: u.InFlight,
			ErrorRate: u.ErrorRate, PriceIn: u.PriceIn, PriceOut: u.PriceOut, Weight: u.Weight,
		}
	}
	return ups, nil
}
