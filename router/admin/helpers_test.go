package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/admin"
	"github.com/switchyard-dev/switchyard/router/telemetry"
)

const token = "adm-0123456789abcdef"

// testSource is the instance's side of admin in these tests: traffic comes
// from a real telemetry.Telemetry that the tests record requests into;
// upstream, plugin and cache state are plain values.
type testSource struct {
	tel *telemetry.Telemetry
	mu  sync.Mutex
	ups []admin.Upstream
	cs  admin.CacheStats
	pur []string
}

func newSource(t testing.TB) *testSource {
	tel, err := telemetry.New(telemetry.Config{NoProcessMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Close(context.Background()) })
	return &testSource{tel: tel, ups: []admin.Upstream{
		{Name: "azure-eu", Provider: "azure", Region: "westeurope", Healthy: true, Breaker: "closed", InFlight: 2, LatencyMS: 820, TTFBMS: 240, ErrorRate: 0.01},
		{Name: "bedrock-us", Provider: "bedrock", Region: "us-east-1", Healthy: false, Breaker: "open", LatencyMS: 1900, TTFBMS: 600, ErrorRate: 0.6},
	}, cs: admin.CacheStats{Entries: 12, Bytes: 3 << 20, MaxBytes: 256 << 20}}
}

func (s *testSource) Upstreams(dst []admin.Upstream) []admin.Upstream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(dst, s.ups...)
}
func (s *testSource) Plugins(dst []admin.Plugin) []admin.Plugin {
	return append(dst, admin.Plugin{Name: "pii", Kinds: []string{"redact"}, Module: "sha256:9f86d081884c7d65", Version: "1.0.0",
		Healthy: true, Calls: 40, Failures: 2, PoolSize: 4, PoolIdle: 4})
}
func (s *testSource) Cache() (admin.CacheStats, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cs, true
}
func (s *testSource) PurgeCache(tenant, model string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pur = append(s.pur, tenant+"/"+model)
	return nil
}
func (s *testSource) Config() ([]byte, string) {
	return []byte("listen: 127.0.0.1:8080\nadmin:\n  token: '***'\n"), "application/yaml"
}
func (s *testSource) Traffic(dst []admin.Traffic) []admin.Traffic {
	for _, r := range s.tel.AppendTraffic(nil) {
		dst = append(dst, admin.Traffic(r))
	}
	return dst
}

// hit records one request into telemetry and the cache counters, the way
// the core would after answering it.
func (s *testSource) hit(h *telemetry.Handles, status int, c telemetry.Cache, ttft time.Duration, cost float64) {
	h.Record(&telemetry.Outcome{Status: status, Cache: c, Duration: 2 * ttft, TTFT: ttft,
		Usage: telemetry.Usage{Input: 50, Output: 20, CostUSD: cost}})
	s.mu.Lock()
	switch c {
	case telemetry.CacheHit:
		s.cs.Hits++
	case telemetry.CacheMiss:
		s.cs.Misses++
	}
	s.mu.Unlock()
}

// memKeys is an in-memory KeyStore with the contract router/limits will
// implement, enough to drive the admin routes.
type memKeys struct {
	mu   sync.Mutex
	keys []admin.Key
	n    int
}

func (m *memKeys) Tenants() ([]admin.Tenant, error) {
	return []admin.Tenant{{Name: "acme", Keys: len(m.keys)}}, nil
}
func (m *memKeys) Keys(tenant string) ([]admin.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tenant != "" && tenant != "acme" {
		return nil, fmt.Errorf("%w: tenant %q", admin.ErrNotFound, tenant)
	}
	return append([]admin.Key(nil), m.keys...), nil
}
func (m *memKeys) CreateKey(spec admin.KeySpec) (admin.Key, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if spec.Tenant != "acme" {
		return admin.Key{}, "", fmt.Errorf("%w: tenant %q", admin.ErrNotFound, spec.Tenant)
	}
	if len(spec.Models) > 10 {
		return admin.Key{}, "", fmt.Errorf("%w: too many models", admin.ErrInvalid)
	}
	m.n++
	k := admin.Key{ID: fmt.Sprintf("key_%d", m.n), Tenant: spec.Tenant, Name: spec.Name, Prefix: "sk-sy-", CreatedAt: time.Unix(1, 0).UTC(), Models: spec.Models}
	m.keys = append(m.keys, k)
	return k, fmt.Sprintf("sk-sy-secret-%d", m.n), nil
}
func (m *memKeys) RevokeKey(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].ID == id {
			m.keys[i].Revoked = true
			return nil
		}
	}
	return fmt.Errorf("%w: key %q", admin.ErrNotFound, id)
}
func (m *memKeys) RotateKey(id string) (admin.Key, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id == "key_boom" {
		return admin.Key{}, "", errors.New("disk full at /var/lib/secret-path")
	}
	for _, k := range m.keys {
		if k.ID == id {
			m.n++
			return k, fmt.Sprintf("sk-sy-secret-%d", m.n), nil
		}
	}
	return admin.Key{}, "", fmt.Errorf("%w: key %q", admin.ErrNotFound, id)
}

func start(t testing.TB, cfg admin.Config, opts admin.Options) *admin.Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Token == "" {
		cfg.Token = token
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := admin.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

type answer struct {
	status int
	ctype  string
	body   string
	header *fasthttp.ResponseHeader
}

func call(t testing.TB, addr, method, path, auth, body string) answer {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + path)
	req.Header.SetMethod(method)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.SetBodyString(body)
		req.Header.SetContentType("application/json")
	}
	if err := fasthttp.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	h := &fasthttp.ResponseHeader{}
	resp.Header.CopyTo(h)
	return answer{resp.StatusCode(), string(resp.Header.ContentType()), string(resp.Body()), h}
}

func contains(t testing.TB, a answer, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(a.body, p) {
			t.Fatalf("answer %d %q lacks %q", a.status, a.body, p)
		}
	}
}
