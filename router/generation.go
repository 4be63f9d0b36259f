package router

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/responses"
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
	in       *Instance
	cfg      *config.Config
	ups      *upstream.Set
	chains   Chains // nil without plugins
	tenants  map[string]*tenant
	deflt    *tenant // when no tenants are configured
	models   []byte  // GET /v1/models body
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
	mk := func(name string, names []string) *tenant {
		t := &tenant{name: name}
		if g.chains != nil {
			t.router, t.redactor = g.chains.Router(names), g.chains.Redactor(names)
		}
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
	g.optionalTools = responses.DefaultOptional
	if cfg.Responses.OptionalTools != nil {
		g.optionalTools = responses.ParseToolSet([]byte(strings.Join(cfg.Responses.OptionalTools, ",")))
	}
	g.models, g.modelIx = modelsBodies(cfg)
	return g, nil
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
