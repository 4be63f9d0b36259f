// Package upstream owns the clouds the router forwards to: one keep-alive
// connection pool per upstream, live health and latency statistics, a simple
// breaker, and the default candidate order used when no routing plugin decides.
package upstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Breaker thresholds: after FailuresToOpen consecutive failed attempts an
// upstream is unhealthy for CoolDown, then one attempt is let through.
const (
	FailuresToOpen = 5
	CoolDown       = 5 * time.Second
)

// ewmaWeight is the weight of a new sample in the moving averages.
const ewmaWeight = 0.2

// Upstream is one configured cloud endpoint. Its statistics are updated with
// atomics by concurrent requests; its configuration is immutable.
type Upstream struct {
	Index   int
	Name    string
	Config  config.Upstream
	Adapter provider.Adapter
	Client  *fasthttp.HostClient
	// NameBytes and ProviderBytes are Name and Adapter.Provider() as bytes,
	// for response headers without a conversion per request.
	NameBytes, ProviderBytes []byte

	// Why padded? These counters are written by every request to this
	// upstream from every core; keeping them off the immutable fields' cache
	// lines avoids false sharing with readers of Name/Config.
	_         [64]byte
	inFlight  atomic.Int32
	latencyUS atomic.Uint64 // float64 bits, EWMA
	ttfbUS    atomic.Uint64 // float64 bits, EWMA
	errRate   atomic.Uint64 // float64 bits, EWMA of failures (0/1)
	failures  atomic.Int32  // consecutive failures
	openUntil atomic.Int64  // unix nanos; breaker open (unhealthy) until then
	coolUntil atomic.Int64  // unix nanos; the cloud asked us to wait (retry-after)
	requests  atomic.Uint64
	errors    atomic.Uint64
	_         [64]byte
}

// NewClient builds the keep-alive pool for an upstream base URL.
func NewClient(u config.Upstream, baseURL string) (*fasthttp.HostClient, error) {
	pu, err := url.Parse(baseURL)
	if err != nil || pu.Host == "" {
		return nil, fmt.Errorf("upstream %s: bad base_url %q", u.Name, baseURL)
	}
	tlsOn := pu.Scheme == "https"
	addr := pu.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		if tlsOn {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	maxConns := u.MaxConns
	if maxConns <= 0 {
		maxConns = 512
	}
	return &fasthttp.HostClient{
		Addr:                          addr,
		Dial:                          dialer(u.Timeout),
		Name:                          "switchyard",
		IsTLS:                         tlsOn,
		TLSConfig:                     &tls.Config{ServerName: pu.Hostname(), MinVersion: tls.VersionTLS12},
		MaxConns:                      maxConns,
		MaxIdleConnDuration:           90 * time.Second,
		MaxConnWaitTimeout:            5 * time.Second,
		ReadBufferSize:                16 << 10,
		WriteBufferSize:               16 << 10,
		MaxResponseBodySize:           64 << 20,
		DisableHeaderNamesNormalizing: false,
		// Bedrock model ids need %3A kept in the path as sent.
		DisablePathNormalizing: true,
		// Attempts are retried by the router's own loop, across upstreams.
		RetryIfErr: func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
	}, nil
}

// BaseURL returns the effective base URL of an upstream (its configured one or
// the provider default filled in by config).
func BaseURL(u config.Upstream) string { return strings.TrimRight(u.BaseURL, "/") }

// Begin marks the start of an attempt.
func (u *Upstream) Begin() { u.inFlight.Add(1); u.requests.Add(1) }

// FirstByte records the time to first byte of a successful attempt.
func (u *Upstream) FirstByte(d time.Duration) { ewma(&u.ttfbUS, float64(d.Microseconds())) }

// End records the outcome of an attempt. Failures count towards the breaker.
func (u *Upstream) End(d time.Duration, failed bool) {
	u.inFlight.Add(-1)
	if failed {
		u.errors.Add(1)
		ewma(&u.errRate, 1)
		if u.failures.Add(1) >= FailuresToOpen {
			u.openUntil.Store(time.Now().Add(CoolDown).UnixNano())
		}
		return
	}
	ewma(&u.errRate, 0)
	ewma(&u.latencyUS, float64(d.Microseconds()))
	u.failures.Store(0)
	u.openUntil.Store(0)
}

// CoolFor records a cloud's retry hint: the upstream is avoided until then.
func (u *Upstream) CoolFor(d time.Duration) {
	if d > 0 {
		u.coolUntil.Store(time.Now().Add(d).UnixNano())
	}
}

// CoolUntil returns when the cloud's retry hint expires (zero time if none).
func (u *Upstream) CoolUntil() time.Time {
	n := u.coolUntil.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Healthy reports whether the breaker is closed and no retry hint is pending.
func (u *Upstream) Healthy(now int64) bool {
	return u.openUntil.Load() <= now && u.coolUntil.Load() <= now && u.Adapter.Ready() == nil
}

// Snapshot fills one row of the routing plugins' upstream table.
func (u *Upstream) Snapshot(row *plugins.Upstream, now int64) {
	row.Name = u.Name
	row.Provider = u.Adapter.Provider()
	row.Region = u.Config.Region
	row.Healthy = u.Healthy(now)
	row.LatencyUS = uint32(min(load(&u.latencyUS), math.MaxUint32))
	row.TTFBUS = uint32(min(load(&u.ttfbUS), math.MaxUint32))
	row.InFlight = uint32(max(u.inFlight.Load(), 0))
	row.ErrorRate = float32(load(&u.errRate))
	row.PriceIn = float32(u.Config.Price.Input)
	row.PriceOut = float32(u.Config.Price.Output)
	row.Weight = uint32(max(u.Config.Weight, 0))
}

// Stats is a point-in-time copy of an upstream's counters, for metrics.
type Stats struct {
	Requests, Errors uint64
	InFlight         int32
	LatencyUS        float64
	TTFBUS           float64
	ErrorRate        float64
	Healthy          bool
}

// Stats returns the upstream's counters.
func (u *Upstream) Stats() Stats {
	return Stats{Requests: u.requests.Load(), Errors: u.errors.Load(), InFlight: u.inFlight.Load(),
		LatencyUS: load(&u.latencyUS), TTFBUS: load(&u.ttfbUS), ErrorRate: load(&u.errRate),
		Healthy: u.Healthy(time.Now().UnixNano())}
}

func load(a *atomic.Uint64) float64 { return math.Float64frombits(a.Load()) }

func ewma(a *atomic.Uint64, sample float64) {
	for {
		old := a.Load()
		cur := math.Float64frombits(old)
		next := sample
		if old != 0 {
			next = cur + ewmaWeight*(sample-cur)
		}
		if a.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}

// ErrUnknownProvider is returned for a provider name no adapter serves.
var ErrUnknownProvider = errors.New("upstream: unknown provider")
