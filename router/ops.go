package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/router/admin"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/limits"
	"github.com/switchyard-dev/switchyard/router/telemetry"
)

// This file wires the process-lifetime operations parts into the instance:
// telemetry (metrics and tracing), the limiter and managed keys, and the
// admin listener. Each lives as long as the Instance; a Generation only
// resolves handles into them (generation.go).

// counters are the instance's own counters, registered once on the
// telemetry registry, so they keep counting across reloads.
type counters struct {
	served       prometheus.Counter // answers relayed completely
	failed       prometheus.Counter // requests answered with an upstream error after all attempts
	streamErrors prometheus.Counter // streams ended by an upstream failure after the first byte
	clientGone   prometheus.Counter // requests whose client went away before their answer was complete
}

func newCounters(reg prometheus.Registerer) (counters, error) {
	c := counters{
		served: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_requests_served_total",
			Help: "Answers relayed to the client completely (from an upstream or the cache)."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_requests_failed_total",
			Help: "Requests answered with an upstream error after all attempts."}),
		streamErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_stream_errors_total",
			Help: "Streams ended by an upstream failure after the first byte."}),
		clientGone: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_client_disconnects_total",
			Help: "Requests whose client went away before the answer was complete (their upstream call is cut unless a coalesced waiter or the cache fill still needs it)."}),
	}
	for _, m := range []prometheus.Collector{c.served, c.failed, c.streamErrors, c.clientGone} {
		if err := reg.Register(m); err != nil {
			return c, err
		}
	}
	return c, nil
}

// startOps builds telemetry, the limiter and the key store for cfg (the
// first config: their settings take a restart to change).
func (in *Instance) startOps(cfg *config.Config) (err error) {
	tc := cfg.Telemetry
	in.tel, err = telemetry.New(telemetry.Config{ServiceName: tc.ServiceName, PoP: cfg.PoP.Name,
		NoProcessMetrics: tc.DisableProcessMetrics,
		Tracing: telemetry.TracingConfig{Endpoint: tc.Tracing.Endpoint, Headers: tc.Tracing.Headers,
			SampleRatio: tc.Tracing.SampleRatio, BatchTimeout: tc.Tracing.BatchTimeout, ExportTimeout: tc.Tracing.ExportTimeout}})
	if err != nil {
		return err
	}
	if in.count, err = newCounters(in.tel.Registry()); err != nil {
		return err
	}
	in.tel.SetStats(instanceStats{in})
	if in.limiter, err = limits.New(limits.Config{}); err != nil {
		return err
	}
	if cfg.Keys.File != "" {
		log := in.log
		in.keys, err = limits.OpenKeys(limits.KeysConfig{Path: cfg.Keys.File, ReloadInterval: cfg.Keys.ReloadInterval,
			OnReload: func(err error) {
				if err != nil {
					log.Error("key file: the keys in force stay", "err", err)
				}
			}})
		if err != nil {
			return err
		}
	}
	in.opsCfg = opsSettings{telemetry: cfg.Telemetry, keys: cfg.Keys, admin: cfg.Admin}
	return nil
}

// opsSettings are the parts of the first config that a reload cannot change.
type opsSettings struct {
	telemetry config.Telemetry
	keys      config.Keys
	admin     config.Admin
}

// warnOps logs the operations settings a reload asked to change.
func (in *Instance) warnOps(cfg *config.Config) {
	o := in.opsCfg
	if fmt.Sprint(o.telemetry) != fmt.Sprint(cfg.Telemetry) || o.keys != cfg.Keys || o.admin != cfg.Admin {
		in.log.Warn("reload: telemetry, keys and admin settings take effect at the next restart")
	}
}

// startAdmin starts the admin listener when admin.listen is set.
func (in *Instance) startAdmin(cfg *config.Config) error {
	if cfg.Admin.Listen == "" {
		return nil
	}
	opts := admin.Options{Source: adminSource{in}, Metrics: in.tel.MetricsHandler(), Logger: in.log}
	if in.keys != nil {
		opts.Keys = keyStore{in}
	}
	if rc := in.wiring.ReloadConfig; rc != nil {
		opts.Reload = func(ctx context.Context) error {
			next, err := rc()
			if err != nil {
				return err
			}
			return in.Reload(ctx, next)
		}
	}
	s, err := admin.New(admin.Config{Listen: cfg.Admin.Listen, Token: cfg.Admin.Token}, opts)
	if err != nil {
		return err
	}
	in.admin = s
	in.log.Info("admin listening", "addr", s.Addr().String())
	return nil
}

// AdminAddr is the admin listener's address, or "" without one.
func (in *Instance) AdminAddr() string {
	if in.admin == nil {
		return ""
	}
	return in.admin.Addr().String()
}

// Telemetry is the instance's metrics registry and tracer.
func (in *Instance) Telemetry() *telemetry.Telemetry { return in.tel }

// Keys is the managed key store, or nil without keys.file.
func (in *Instance) Keys() *limits.Keys { return in.keys }

// closeOps stops the admin listener, flushes spans and closes the key store.
func (in *Instance) closeOps(ctx context.Context) error {
	var errs []error
	if in.admin != nil {
		errs = append(errs, in.admin.Close(ctx))
	}
	if in.tel != nil {
		errs = append(errs, in.tel.Close(ctx))
	}
	if in.keys != nil {
		errs = append(errs, in.keys.Close())
	}
	if in.limiter != nil {
		errs = append(errs, in.limiter.Close())
	}
	return errors.Join(errs...)
}

// instanceStats is telemetry's view of the instance's live state, read at
// scrape time from the current generation.
type instanceStats struct{ in *Instance }

func (s instanceStats) UpstreamStats(dst []telemetry.UpstreamStat) []telemetry.UpstreamStat {
	g := s.in.cur.Load()
	if g == nil {
		return dst
	}
	now := time.Now().UnixNano()
	for _, u := range g.ups.All {
		inFlight, lat, ttfb, errRate := u.Stats.Live()
		snap := u.Stats.Snapshot()
		br := telemetry.BreakerClosed
		if snap.BreakerOpen {
			br = telemetry.BreakerOpen
		}
		dst = append(dst, telemetry.UpstreamStat{Name: u.Name, Provider: u.Config.Provider, Healthy: u.Healthy(now),
			Breaker: br, InFlight: int64(inFlight), LatencyEWMA: time.Duration(lat * 1e3), TTFBEWMA: time.Duration(ttfb * 1e3),
			ErrorRate: errRate, Overloads: snap.Overloads, Renewals: snap.Renewals, Unrenewed: snap.Unrenewed})
	}
	return dst
}

// PluginStats lists the configured plugins. Why so little? The plugin host's
// API offers only a health check today; per-plugin pools and module hashes
// come when it reports them.
func (s instanceStats) PluginStats(dst []telemetry.PluginStat) []telemetry.PluginStat {
	g := s.in.cur.Load()
	if g == nil || g.chains == nil {
		return dst
	}
	healthy := s.in.wiring.Plugins.Healthy() == nil
	for _, p := range g.cfg.Plugins {
		dst = append(dst, telemetry.PluginStat{Name: p.Name, Module: filepath.Base(p.Wasm), Healthy: healthy})
	}
	return dst
}

func (s instanceStats) CacheStats() (telemetry.CacheStat, bool) {
	g := s.in.cur.Load()
	if g == nil || g.cache == nil {
		return telemetry.CacheStat{}, false
	}
	st := g.cache.Stats()
	// The cache keeps no entry count; stored minus evicted is its estimate.
	entries := max(int64(st.Sets)-int64(st.Evictions), 0)
	return telemetry.CacheStat{Entries: entries, Bytes: st.Bytes, MaxBytes: int64(g.cfg.Cache.MaxBytes),
		Hits: st.Hits, Misses: st.Misses, Coalesced: st.Coalesced, Sets: st.Sets, Rejected: st.Rejected, Evicted: st.Evictions}, true
}

// adminSource is the admin API's view of the instance.
type adminSource struct{ in *Instance }

func (a adminSource) Upstreams(dst []admin.Upstream) []admin.Upstream {
	g := a.in.cur.Load()
	now := time.Now().UnixNano()
	for _, u := range g.ups.All {
		st := u.Stats.Snapshot()
		br := "closed"
		if st.BreakerOpen {
			br = "open"
		}
		dst = append(dst, admin.Upstream{Name: u.Name, Provider: u.Config.Provider, Region: u.Config.Region,
			Healthy: u.Healthy(now), Breaker: br, InFlight: int64(max(st.InFlight, 0)), LatencyMS: st.LatencyUS / 1e3,
			TTFBMS: st.TTFBUS / 1e3, ErrorRate: st.ErrorRate, Requests: st.Requests, Errors: st.Errors})
	}
	return dst
}

func (a adminSource) Plugins(dst []admin.Plugin) []admin.Plugin {
	g := a.in.cur.Load()
	if g.chains == nil {
		return dst
	}
	healthy := a.in.wiring.Plugins.Healthy() == nil
	for _, p := range g.cfg.Plugins {
		calls, fails := a.in.tel.PluginCounts(p.Name)
		dst = append(dst, admin.Plugin{Name: p.Name, Kinds: strings.Split(p.Kind, ","), Module: filepath.Base(p.Wasm),
			Healthy: healthy, Calls: calls, Failures: fails})
	}
	return dst
}

func (a adminSource) Cache() (admin.CacheStats, bool) {
	cs, ok := instanceStats(a).CacheStats()
	if !ok {
		return admin.CacheStats{}, false
	}
	return admin.CacheStats{Entries: cs.Entries, Bytes: cs.Bytes, MaxBytes: cs.MaxBytes, Hits: cs.Hits, Misses: cs.Misses,
		Coalesced: cs.Coalesced, Sets: cs.Sets, Evictions: cs.Evicted}, true
}

func (a adminSource) PurgeCache(tenant, model string) error {
	g := a.in.cur.Load()
	if g.cache == nil {
		return admin.ErrCacheOff
	}
	g.cache.Purge(tenant, model)
	return nil
}

func (a adminSource) Config() ([]byte, string) {
	b, err := json.MarshalIndent(maskedConfig(a.in.cur.Load().cfg), "", "  ")
	if err != nil {
		return []byte(`{"error":"the config could not be rendered"}`), "application/json"
	}
	return b, "application/json"
}

func (a adminSource) Traffic(dst []admin.Traffic) []admin.Traffic {
	for _, r := range a.in.tel.AppendTraffic(nil) {
		dst = append(dst, admin.Traffic(r))
	}
	return dst
}

// masked replaces a secret's value; an empty value stays empty, so the dump
// still shows which secrets are unset.
func masked(s string) string {
	if s == "" {
		return ""
	}
	return "********"
}

// maskedConfig copies cfg with every secret masked: upstream credentials,
// tenant keys, the admin token and the tracing headers' values. Why a copy
// by hand, not by reflection over tags? The list of secrets is short and a
// reviewer can check it here; a new secret field is added with its mask.
func maskedConfig(cfg *config.Config) *config.Config {
	c := *cfg
	c.Upstreams = make([]config.Upstream, len(cfg.Upstreams))
	for i, u := range cfg.Upstreams {
		u.Auth.APIKey = masked(u.Auth.APIKey)
		u.Auth.BearerToken = masked(u.Auth.BearerToken)
		u.Auth.SecretAccessKey = masked(u.Auth.SecretAccessKey)
		u.Auth.SessionToken = masked(u.Auth.SessionToken)
		c.Upstreams[i] = u
	}
	c.Tenants = make([]config.Tenant, len(cfg.Tenants))
	for i, t := range cfg.Tenants {
		keys := make([]string, len(t.Keys))
		for j, k := range t.Keys {
			keys[j] = masked(k)
		}
		t.Keys = keys
		c.Tenants[i] = t
	}
	c.Admin.Token = masked(c.Admin.Token)
	if h := cfg.Telemetry.Tracing.Headers; len(h) > 0 {
		m := make(map[string]string, len(h))
		for k, v := range h {
			m[k] = masked(v)
		}
		c.Telemetry.Tracing.Headers = m
	}
	return &c
}

// keyStore adapts limits.Keys to the admin API's KeyStore.
type keyStore struct{ in *Instance }

func keyErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, limits.ErrKeyUnknown):
		return fmt.Errorf("%w: %v", admin.ErrNotFound, err)
	case errors.Is(err, limits.ErrKeySpec), errors.Is(err, limits.ErrKeyRevoked):
		return fmt.Errorf("%w: %v", admin.ErrInvalid, err)
	}
	return err
}

func adminKey(k limits.KeyInfo) admin.Key {
	out := admin.Key{ID: k.ID, Tenant: k.Tenant, Name: k.Name, Prefix: k.Hint, CreatedAt: k.Created,
		Revoked: !k.Revoked.IsZero(), Models: k.Models, Endpoints: k.Endpoints}
	if !k.Expires.IsZero() {
		e := k.Expires
		out.ExpiresAt = &e
	}
	return out
}

func (s keyStore) Tenants() ([]admin.Tenant, error) {
	g := s.in.cur.Load()
	active := map[string]int{}
	now := time.Now()
	for _, k := range s.in.keys.List("") {
		if k.Revoked.IsZero() && (k.Expires.IsZero() || now.Before(k.Expires)) {
			active[k.Tenant]++
		}
	}
	var out []admin.Tenant
	for _, t := range g.cfg.Tenants {
		out = append(out, admin.Tenant{Name: t.Name, Keys: active[t.Name]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s keyStore) Keys(tenant string) ([]admin.Key, error) {
	list := s.in.keys.List(tenant)
	out := make([]admin.Key, 0, len(list))
	for _, k := range list {
		out = append(out, adminKey(k))
	}
	return out, nil
}

func (s keyStore) CreateKey(spec admin.KeySpec) (admin.Key, string, error) {
	if s.in.cur.Load().byName[spec.Tenant] == nil {
		return admin.Key{}, "", fmt.Errorf("%w: no tenant %q in the running config", admin.ErrNotFound, spec.Tenant)
	}
	ls := limits.KeySpec{Tenant: spec.Tenant, Name: spec.Name, Models: spec.Models, Endpoints: spec.Endpoints}
	if spec.ExpiresAt != nil {
		ls.Expires = *spec.ExpiresAt
	}
	k, secret, err := s.in.keys.Create(ls)
	if err != nil {
		return admin.Key{}, "", keyErr(err)
	}
	return adminKey(k), secret, nil
}

func (s keyStore) RevokeKey(id string) error {
	_, err := s.in.keys.Revoke(id)
	return keyErr(err)
}

func (s keyStore) RotateKey(id string) (admin.Key, string, error) {
	k, secret, err := s.in.keys.Rotate(id)
	if err != nil {
		return admin.Key{}, "", keyErr(err)
	}
	return adminKey(k), secret, nil
}
