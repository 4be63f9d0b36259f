// Package upstream owns the clouds the router forwards to: one keep-alive
// connection pool per upstream, live health and latency statistics, a simple
// breaker, and the default candidate order used when no routing plugin decides.
package upstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// Upstream is one configured cloud endpoint in one config generation: its
// configuration and adapter (the generation's) and its live statistics and
// connection pool (the process's, through the Registry). Safe for concurrent
// use.
type Upstream struct {
	Index   int
	Name    string
	Config  provider.Upstream
	Adapter provider.Adapter
	*Stats
	Client *fasthttp.HostClient
	// NameBytes and ProviderBytes are Name and Adapter.Provider() as bytes,
	// for response headers without a conversion per request.
	NameBytes, ProviderBytes []byte

	pool *pool
}

// Defaults for zero fields of provider.Upstream that belong to the pool.
const (
	DefaultTimeout  = 60 * time.Second
	DefaultMaxConns = 512
)

// NewClient builds the keep-alive pool for an upstream base URL.
func NewClient(u provider.Upstream, baseURL string) (*fasthttp.HostClient, error) {
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
		maxConns = DefaultMaxConns
	}
	timeout := u.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &fasthttp.HostClient{
		Addr:                          addr,
		Dial:                          dialer(timeout),
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
func BaseURL(u provider.Upstream) string { return strings.TrimRight(u.BaseURL, "/") }

// Healthy reports whether the breaker is closed and no retry hint is pending.
func (u *Upstream) Healthy(now int64) bool {
	return !u.open(now) && u.Adapter.Ready() == nil
}

// ErrUnknownProvider is returned for a provider name no adapter serves.
var ErrUnknownProvider = errors.New("upstream: unknown provider")
