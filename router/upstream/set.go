package upstream

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Builder makes the adapter for one configured upstream.
type Builder func(config.Upstream) (provider.Adapter, error)

// Set is every configured upstream and the index from public model names to
// the upstreams serving them. Immutable after NewSet; safe for concurrent use.
type Set struct {
	All     []*Upstream
	byModel map[string][]int // public model → indices into All, configured order
}

// NewSet builds adapters and connection pools for every upstream. On error
// everything built so far is closed.
func NewSet(cfgs []config.Upstream, build Builder) (*Set, error) {
	s := &Set{byModel: map[string][]int{}}
	for i, c := range cfgs {
		a, err := build(c)
		if err != nil {
			s.Close()
			return nil, errors.Join(errors.New("upstream "+c.Name), err)
		}
		client, err := NewClient(c, BaseURL(c))
		if err != nil {
			a.Close()
			s.Close()
			return nil, err
		}
		s.All = append(s.All, &Upstream{Index: i, Name: c.Name, Config: c, Adapter: a, Client: client,
			NameBytes: []byte(c.Name), ProviderBytes: []byte(a.Provider())})
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

// Table appends one row per upstream to dst, for routing plugins.
func (s *Set) Table(dst []plugins.Upstream) []plugins.Upstream {
	now := time.Now().UnixNano()
	for _, u := range s.All {
		dst = append(dst, plugins.Upstream{})
		u.Snapshot(&dst[len(dst)-1], now)
	}
	return dst
}

// Close closes every adapter and idle connection. Safe to call twice.
func (s *Set) Close() {
	for _, u := range s.All {
		u.Adapter.Close()
		if u.Client != nil {
			u.Client.CloseIdleConnections()
		}
	}
}
