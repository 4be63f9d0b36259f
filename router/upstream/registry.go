package upstream

import (
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// Registry is the process-lifetime half of the upstreams: live statistics and
// connection pools, by upstream name. Each config generation's Set takes what
// it needs from it, so a reload keeps the statistics (EWMA, breaker, counters)
// and the warm connections of every upstream it keeps. Safe for concurrent
// use.
type Registry struct {
	mu    sync.Mutex
	stats map[string]*Stats
	pools map[string]*pool // the newest pool per upstream name
	opts  PoolOptions      // for pools built from now on
}

// pool is one keep-alive connection pool, shared by the generations whose
// upstream of that name has the same address and connection settings.
type pool struct {
	key    poolKey
	client *fasthttp.HostClient
	refs   int // generations using it; guarded by Registry.mu
}

type poolKey struct {
	baseURL  string
	maxConns int
	timeout  int64
	opts     PoolOptions
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{stats: map[string]*Stats{}, pools: map[string]*pool{}}
}

// SetPoolOptions sets the PoP-wide pool settings (how long a request waits
// for a connection of a full pool, the read buffer). Pools are rebuilt with
// them when the next generation acquires them; a pool whose settings are
// unchanged is kept.
func (r *Registry) SetPoolOptions(o PoolOptions) {
	r.mu.Lock()
	r.opts = o.withDefaults()
	r.mu.Unlock()
}

// Stats returns the statistics of the upstream called name, creating them on
// first use. The same name always gets the same *Stats.
func (r *Registry) Stats(name string) *Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statsLocked(name)
}

func (r *Registry) statsLocked(name string) *Stats {
	s := r.stats[name]
	if s == nil {
		s = new(Stats)
		r.stats[name] = s
	}
	return s
}

// acquire returns the statistics and a pool for c, reusing the pool of the
// same name when its connection settings are unchanged. release gives the
// pool back.
func (r *Registry) acquire(c provider.Upstream) (*Stats, *pool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := poolKey{baseURL: BaseURL(c), maxConns: c.MaxConns, timeout: int64(c.Timeout), opts: r.opts.withDefaults()}
	if p := r.pools[c.Name]; p != nil && p.key == k {
		p.refs++
		return r.statsLocked(c.Name), p, nil
	}
	client, err := newClient(c, k.baseURL, k.opts)
	if err != nil {
		return nil, nil, err
	}
	p := &pool{key: k, client: client, refs: 1}
	r.pools[c.Name] = p
	return r.statsLocked(c.Name), p, nil
}

func (r *Registry) release(name string, p *pool) {
	r.mu.Lock()
	p.refs--
	last := p.refs == 0
	if last && r.pools[name] == p {
		delete(r.pools, name)
	}
	r.mu.Unlock()
	if last {
		p.client.CloseIdleConnections()
	}
}
