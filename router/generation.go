package router

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/limits"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/responses"
	"github.com/switchyard-dev/switchyard/router/telemetry"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// stripes is the number of hold counters per generation. Why striped? Every
// request takes and drops a hold; one shared word would bounce between cores.
// A request uses the stripe of its connection.
const stripes = 16

// Generation is everything built from one config: tenants and keys, cache
// policies, the upstream adapters and candidate tables, the plugin chains. It
// is immutable and serves requests until a reload swaps in the next one; it is
// then released — adapters closed, plugin modules and pools given back — at
// the moment its last request or stream ends, with no timer and no polling.
// Safe for concurrent use.
type Generation struct {
	in      *Instance
	cfg     *config.Config
	ups     *upstream.Set
	chains  Chains             // nil without plugins
	tenants map[string]*tenant // by config key
	byName  map[string]*tenant // by tenant name (managed keys name their tenant)
	deflt   *tenant            // when no tenants are configured
	rules   *limits.Rules      // this config's limits over the instance's counters
	// dearest is, per public model, the highest price among the upstreams
	// serving it: the budget reservation's price (no overshoot by fallback).
	dearest  map[string]limits.Price
	models   []byte // GET /v1/models body
	modelIx  map[string][]byte
	cache    *cache.Cache // nil when caching is off everywhere
	shared   *sharedCache
	policies *cache.Policies
	policy   upstream.Policy
	// optionalTools are the hosted Responses tools dropped, not refused, on
	// chat-only upstreams (responses.optional_tools).
	optionalTools responses.ToolSet

	holds [stripes]struct {
		n atomic.Int64
		_ [56]byte
	}
	retired  atomic.Bool
	released atomic.Bool
	done     chan struct{} // closed when released
}

type tenant struct {
	name     string
	router   plugins.Router   // nil: no routing plugin
	redactor plugins.Redactor // nil: no redaction plugin
	lim      *limits.Tenant   // the tenant's limits in this generation
	// routeTel and redactTel count the chains' calls; the label is the
	// chain's plugin names joined with "+".
	routeTel, redactTel   *telemetry.PluginHandles
	routeName, redactName string
	// models are the metric handles per public model; unknown has those of
	// requests refused before a served model was known.
	models  map[string]*modelHandles
	unknown [numEndpoints]*telemetry.Handles
	tel     *telemetry.Telemetry
}

// numEndpoints sizes per-endpoint tables (provider.Endpoint values 1..4).
const numEndpoints = int(provider.Responses) + 1

// endpointLabel is the metrics' endpoint label.
var endpointLabel = [numEndpoints]string{"", "chat", "completions", "embeddings", "responses"}

// modelHandles are one (tenant, model)'s metric handles per endpoint: one
// for answers without an upstream (cache hits, failures) and one per
// upstream index (no labels when that upstream does not serve the model
// there), each resolved on first use.
type modelHandles struct {
	model string
	none  [numEndpoints]lazyHandles
	ups   [numEndpoints][]lazyHandles
}

// build makes a generation for cfg. It changes nothing that serves; on error
// it releases what it built.
func (in *Instance) build(ctx context.Context, cfg *config.Config) (_ *Generation, err error) {
	g := &Generation{in: in, cfg: cfg, tenants: map[string]*tenant{}, done: make(chan struct{}),
		policy: upstream.Policy{MaxAttempts: cfg.Limits.MaxAttempts, MaxRetryAfter: cfg.Limits.MaxRetryAfter}}
	defer func() {
		if err != nil {
			g.release()
		}
	}()
	policies := cache.PolicyConfig{Default: cfg.Cache.Policy, Models: cfg.Cache.Models, Tenants: map[string]string{}}
	for _, t := range cfg.Tenants {
		policies.Tenants[t.Name] = t.CachePolicy
	}
	if g.policies, err = cache.NewPolicies(policies); err != nil {
		return nil, err
	}
	if g.ups, err = upstream.NewSet(cfg.Upstreams, in.wiring.Adapter, in.reg); err != nil {
		return nil, err
	}
	if len(cfg.Plugins) > 0 {
		if in.wiring.Plugins == nil {
			return nil, fmt.Errorf("%w: the config lists plugins but no plugin runtime is wired", ErrNoWiring)
		}
		if g.chains, err = in.wiring.Plugins.Chains(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if g.shared, err = in.acquireCache(cfg); err != nil {
		return nil, err
	}
	if g.shared != nil {
		g.cache = g.shared.c
	}
	var rc limits.RulesConfig
	if len(cfg.Tenants) == 0 {
		rc.Tenants = []limits.TenantConfig{{Name: "default"}}
	}
	for _, tc := range cfg.Tenants {
		l := tc.Limits
		rc.Tenants = append(rc.Tenants, limits.TenantConfig{Name: tc.Name,
			Limits: limits.Limits{RequestsPerMinute: l.RequestsPerMinute, TokensPerMinute: l.TokensPerMinute,
				DailyBudget: l.DailyBudget, MonthlyBudget: l.MonthlyBudget},
			PerKey: limits.Limits{RequestsPerMinute: l.PerKey.RequestsPerMinute, TokensPerMinute: l.PerKey.TokensPerMinute,
				DailyBudget: l.PerKey.DailyBudget, MonthlyBudget: l.PerKey.MonthlyBudget}})
	}
	if g.rules, err = in.limiter.Rules(rc); err != nil {
		return nil, err
	}
	g.byName = map[string]*tenant{}
	mk := func(name string, names []string) *tenant {
		t := &tenant{name: name, lim: g.rules.Tenant(name)}
		if g.chains != nil {
			t.router, t.redactor = g.chains.Router(names), g.chains.Redactor(names)
		}
		g.resolveTelemetry(t, names)
		g.byName[name] = t
		return t
	}
	if len(cfg.Tenants) == 0 {
		g.deflt = mk("default", nil)
	}
	for _, tc := range cfg.Tenants {
		t := mk(tc.Name, tc.Plugins)
		for _, k := range tc.Keys {
			g.tenants[k] = t
		}
	}
	g.dearest = map[string]limits.Price{}
	for _, u := range cfg.Upstreams {
		for public := range u.Models {
			p := g.dearest[public]
			g.dearest[public] = limits.Price{Input: max(p.Input, u.Price.Input), Output: max(p.Output, u.Price.Output)}
		}
	}
	g.optionalTools = responses.DefaultOptional
	if cfg.Responses.OptionalTools != nil {
		g.optionalTools = responses.ParseToolSet([]byte(strings.Join(cfg.Responses.OptionalTools, ",")))
	}
	g.models, g.modelIx = modelsBodies(cfg)
	return g, nil
}

// resolveTelemetry builds t's metric handles for every (endpoint, model,
// upstream) it can be served by, and its plugin chains' handles. names are
// the tenant's plugins (empty = all).
func (g *Generation) resolveTelemetry(t *tenant, names []string) {
	tel := g.in.tel
	var route, redact []string
	for _, p := range g.cfg.Plugins {
		if len(names) > 0 && !slices.Contains(names, p.Name) {
			continue
		}
		for _, k := range strings.Split(p.Kind, ",") {
			switch strings.TrimSpace(k) {
			case "route":
				route = append(route, p.Name)
			case "redact":
				redact = append(redact, p.Name)
			}
		}
	}
	if t.router != nil {
		t.routeName = strings.Join(route, "+")
		t.routeTel = tel.Plugin(t.routeName, "route")
	}
	if t.redactor != nil {
		t.redactName = strings.Join(redact, "+")
		t.redactTel = tel.Plugin(t.redactName, "redact")
	}
	t.tel = tel
	for ep := 1; ep < numEndpoints; ep++ {
		t.unknown[ep] = tel.Handles(telemetry.Labels{Endpoint: endpointLabel[ep], Tenant: t.name, Model: "unknown"})
	}
	t.models = map[string]*modelHandles{}
	for i, u := range g.ups.All {
		for public := range u.Config.Models {
			mh := t.models[public]
			if mh == nil {
				mh = &modelHandles{model: public}
				for ep := 1; ep < numEndpoints; ep++ {
					mh.ups[ep] = make([]lazyHandles, len(g.ups.All))
				}
				t.models[public] = mh
			}
			for ep := 1; ep < numEndpoints; ep++ {
				if g.serves(i, provider.Endpoint(ep), []byte(public)) {
					mh.ups[ep][i].labels = &telemetry.Labels{Endpoint: endpointLabel[ep], Tenant: t.name, Model: public,
						Upstream: u.Name, Provider: u.Config.Provider}
				}
			}
		}
	}
}

// handles returns the metric handles for a request of t: by endpoint, the
// public model and the index of the upstream that answered (-1: none).
// Why resolved on first use rather than at build time? Every (endpoint,
// model, upstream) a tenant could use is many histogram series, most never
// used (an embedding model on the chat endpoint); each costs every scrape.
// The first request of a combination resolves it (a lock and a few
// allocations, once per process, as telemetry returns the same handles
// across generations); later ones load a pointer.
func (t *tenant) handles(ep provider.Endpoint, model []byte, up int) *telemetry.Handles {
	mh := t.models[string(model)]
	if mh == nil {
		return t.unknown[ep]
	}
	if up >= 0 && up < len(mh.ups[ep]) {
		if l := &mh.ups[ep][up]; l.labels != nil {
			return l.get(t.tel)
		}
	}
	return mh.none[ep].getLabels(t.tel, telemetry.Labels{Endpoint: endpointLabel[ep], Tenant: t.name, Model: mh.model})
}

// lazyHandles are handles resolved on first use; labels nil means the
// combination cannot happen (that upstream does not serve that endpoint).
type lazyHandles struct {
	h      atomic.Pointer[telemetry.Handles]
	labels *telemetry.Labels
}

func (l *lazyHandles) get(tel *telemetry.Telemetry) *telemetry.Handles {
	if h := l.h.Load(); h != nil {
		return h
	}
	h := tel.Handles(*l.labels)
	l.h.Store(h)
	return h
}

func (l *lazyHandles) getLabels(tel *telemetry.Telemetry, lb telemetry.Labels) *telemetry.Handles {
	if h := l.h.Load(); h != nil {
		return h
	}
	h := tel.Handles(lb)
	l.h.Store(h)
	return h
}

// enter takes a hold on g for one request or stream; false when g was retired
// (the caller then enters the newer generation instead).
func (g *Generation) enter(stripe int) bool {
	g.holds[stripe].n.Add(1)
	if g.retired.Load() {
		// Why check after adding? A retire that ran before our Add may have
		// seen no hold and released g; one that runs after it sees ours.
		g.leave(stripe)
		return false
	}
	return true
}

// hold takes another hold for a caller that already has one (a stream that
// outlives its handler); it cannot fail, as g cannot be released meanwhile.
func (g *Generation) hold(stripe int) { g.holds[stripe].n.Add(1) }

// leave drops a hold. The last hold of a retired generation releases it.
func (g *Generation) leave(stripe int) {
	g.holds[stripe].n.Add(-1)
	if g.retired.Load() && g.idle() {
		g.release()
	}
}

func (g *Generation) idle() bool {
	var n int64
	for i := range g.holds {
		n += g.holds[i].n.Load()
	}
	return n == 0
}

// retire marks g as replaced: it takes no new requests, and is released now
// if idle, else by its last leave.
func (g *Generation) retire() {
	g.retired.Store(true)
	if g.idle() {
		g.release()
	}
}

// release closes what g owns, exactly once.
func (g *Generation) release() {
	if !g.released.CompareAndSwap(false, true) {
		return
	}
	if g.ups != nil {
		g.ups.Close()
	}
	if g.chains != nil {
		g.chains.Close()
	}
	g.in.releaseCache(g.shared)
	close(g.done)
}

// Released is closed when the generation has been released.
func (g *Generation) Released() <-chan struct{} { return g.done }

// Upstreams is the generation's upstream set (for tests and the admin API).
func (g *Generation) Upstreams() *upstream.Set { return g.ups }

// Config is the config the generation was built from. It must not be modified.
func (g *Generation) Config() *config.Config { return g.cfg }

// modelsBodies renders the /v1/models list and one body per model.
func modelsBodies(cfg *config.Config) ([]byte, map[string][]byte) {
	owners := map[string]string{}
	for _, u := range cfg.Upstreams {
		for public := range u.Models {
			if _, ok := owners[public]; !ok {
				owners[public] = u.Provider
			}
		}
	}
	names := make([]string, 0, len(owners))
	for n := range owners {
		names = append(names, n)
	}
	sort.Strings(names)
	created := strconv.FormatInt(time.Now().Unix(), 10)
	ix := map[string][]byte{}
	list := []byte(`{"object":"list","data":[`)
	for i, n := range names {
		m := []byte(`{"id":`)
		m = openai.AppendJSONString(m, []byte(n))
		m = append(m, `,"object":"model","created":`...)
		m = append(m, created...)
		m = append(m, `,"owned_by":"switchyard"}`...)
		ix[n] = m
		if i > 0 {
			list = append(list, ',')
		}
		list = append(list, m...)
	}
	return append(list, "]}"...), ix
}
