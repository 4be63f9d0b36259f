package wasm

import (
	"context"
	"sync/atomic"

	"github.com/switchyard-dev/switchyard/plugins"
)

// Generation is one config generation's view of the set: the plugins it was
// built with, fixed for its whole life, so a request or stream sees the same
// modules from start to end even when a later config or a changed file brings
// new ones (docs/RATIONALE.md "Why an Instance and Generations?"). Plugins whose
// config and file did not change are shared with the generations before and
// after; a generation holds a reference on each of its plugins, so a replaced
// one is destroyed only when the last generation using it closes and its last
// call has returned. Safe for concurrent use.
type Generation struct {
	s      *Set
	st     *setState
	closed atomic.Bool
}

// Build loads ps as the set's newest state — loading only the plugins whose
// config or file changed, sharing the others — and returns a generation bound
// to it. If a plugin fails to load nothing changes. Close the generation when
// the config generation it serves is released.
func (s *Set) Build(ctx context.Context, ps []Config) (*Generation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrSetClosed
	}
	cur := s.state.Load()
	st := cur
	if !sameConfigs(cur, ps) {
		var err error
		if st, err = s.build(ctx, ps, cur); err != nil {
			return nil, err
		}
	}
	g := &Generation{s: s, st: st}
	for i, e := range st.entries {
		if !e.plugin.acquire() { // cannot happen under s.mu for the newest state
			for _, a := range st.entries[:i] {
				a.plugin.release()
			}
			return nil, ErrClosed
		}
	}
	if st != cur {
		s.swap(st)
	}
	return g, nil
}

// sameConfigs reports whether st was built from exactly ps with unchanged files.
func sameConfigs(st *setState, ps []Config) bool {
	if st == nil || len(st.entries) != len(ps) {
		return false
	}
	for i, e := range st.entries {
		if !sameEntry(e, ps[i]) {
			return false
		}
	}
	return true
}

// Router returns the generation's routing chain for a tenant's plugin names
// (all when empty). Empty reports whether it has no routing plugin.
func (g *Generation) Router(tenantPlugins []string) plugins.RouteChain {
	return &chain{s: g.s, fixed: g.st, names: append([]string(nil), tenantPlugins...), hook: plugins.KindRoute}
}

// Redactor returns the generation's redaction chain for a tenant.
func (g *Generation) Redactor(tenantPlugins []string) plugins.RedactChain {
	return &chain{s: g.s, fixed: g.st, names: append([]string(nil), tenantPlugins...), hook: plugins.KindRedact}
}

// Close releases the generation's hold on its plugins. Safe to call twice.
func (g *Generation) Close() error {
	if !g.closed.CompareAndSwap(false, true) {
		return nil
	}
	for _, e := range g.st.entries {
		e.plugin.release()
	}
	return nil
}
