package upstream

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// Builder makes the adapter for one configured upstream (the command wires in
// one that knows every cloud; the core imports none).
type Builder func(provider.Upstream) (provider.Adapter, error)

// Set is one config generation's upstreams and the index from public model
// names to the upstreams serving them. Immutable after NewSet; safe for
// concurrent use. Its adapters are its own; statistics and pools come from the
// Registry and outlive it.
type Set struct {
	All     []*Upstream
	byModel map[string][]int // public model → indices into All, configured order
	reg     *Registry
	closed  atomic.Bool
}

// NewSet builds adapters for every upstream and takes their statistics and
// pools from reg. On error everything built so far is released.
func NewSet(cfgs []provider.Upstream, build Builder, reg *Registry) (*Set, error) {
	s := &Set{byModel: map[string][]int{}, reg: reg}
	for i, c := range cfgs {
		a, err := build(c)
		if err != nil {
			s.Close()
			return nil, errors.Join(errors.New("upstream "+c.Name), err)
		}
		stats, p, err := reg.acquire(c)
		if err != nil {
			a.Close()
			s.Close()
			return nil, err
		}
		s.All = append(s.All, &Upstream{Index: i, Name: c.Name, Config: c, Adapter: a, Stats: stats, Client: p.client,
			pool: p, NameBytes: []byte(c.Name), ProviderBytes: []byte(a.Provider())})
		for public := range c.Models {
			s.byModel[public] = append(s.byModel[public], i)
		}
	}
	return s, nil
}

// Serving returns the indices of the upstreams serving a public model, in
// configured order; nil when none does. The slice must not be modified.
func (s *Set) Serving(model []byte) []int {
	return s.byModel[string(model)] // no allocation: the compiler optimises this lookup
}

// Serves reports whether upstream i serves the public model.
func (s *Set) Serves(i int, model []byte) bool {
	_, ok := s.All[i].Config.Models[string(model)]
	return ok
}

// DefaultOrder appends the candidates for a model to dst when no routing
// plugin has an opinion: healthy upstreams first; among them the primary is
// drawn by weight (weight 0 = fallback only), the rest keep configured order;
// unhealthy ones come last, so a request is still tried when all are down.
func (s *Set) DefaultOrder(model []byte, dst []int) []int {
	serving := s.Serving(model)
	now := time.Now().UnixNano()
	total := 0
	for _, i := range serving {
		if u := s.All[i]; u.Healthy(now) {
			total += max(u.Config.Weight, 0)
		}
	}
	primary := -1
	if total > 0 {
		pick := rand.IntN(total)
		for _, i := range serving {
			if u := s.All[i]; u.Healthy(now) {
				if pick -= max(u.Config.Weight, 0); pick < 0 {
					primary = i
					break
				}
			}
		}
		dst = append(dst, primary)
	}
	for _, i := range serving {
		if i != primary && s.All[i].Healthy(now) {
			dst = append(dst, i)
		}
	}
	for _, i := range serving {
		if !s.All[i].Healthy(now) {
			dst = append(dst, i)
		}
	}
	return dst
}

// Close closes every adapter and gives the pools back to the registry (a pool
// no newer generation uses closes its idle connections). Safe to call twice.
func (s *Set) Close() {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	for _, u := range s.All {
		u.Adapter.Close()
		if u.pool != nil {
			s.reg.release(u.Name, u.pool)
		}
	}
}
