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

// Defaults for zero fields of provider.Upstream and PoolOptions that belong to
// the pool.
//
// Why 16,384 connections? A stream holds its upstream connection for its whole
// life (seconds to minutes), so the pool bounds concurrent streams, not a
// keep-alive reserve: the default must let one PoP hold 10,000 live streams
// to one cloud with room to spare (issue 16). Memory is protected by a
// PoP-wide bound, not by starving a healthy cloud's pool. Operators who want a
// per-cloud cap set upstreams[].max_conns.
//
// Why a 100 ms wait? A full pool is a local overload, not a slow cloud: the
// caller is better served by another cloud with room, or by a quick 503 with
// retry-after, than by queueing for seconds behind streams that last minutes.
//
// Why a 4 KiB read buffer? It is held for a stream's whole life, one per
// stream; 4 KiB is nginx's proxy_buffer_size on this platform (one page) and
// holds the clouds' response headers (1–3 KB), which must fit in it whole.
// Operators behind a proxy that adds large headers raise it (PoolOptions).
const (
	DefaultTimeout        = 60 * time.Second
	DefaultMaxConns       = 16 << 10
	DefaultMaxConnWait    = 100 * time.Millisecond
	DefaultReadBufferSize = 4 << 10
)

// PoolOptions are the connection-pool settings that are the PoP's rather than
// one cloud's. Zero fields take the defaults above. The Registry owns them
// (SetPoolOptions); pools built afterwards use them.
type PoolOptions struct {
	// MaxConnWait is how long a request waits for a free connection of a full
	// pool before it is answered as a local overload (ErrOverloaded).
	MaxConnWait time.Duration
	// ReadBufferSize is each upstream connection's read buffer; a cloud's
	// response headers must fit in it.
	ReadBufferSize int
}

func (o PoolOptions) withDefaults() PoolOptions {
	if o.MaxConnWait <= 0 {
		o.MaxConnWait = DefaultMaxConnWait
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = DefaultReadBufferSize
	}
	return o
}

// NewClient builds the connection pool for an upstream base URL with the
// default PoolOptions.
func NewClient(u provider.Upstream, baseURL string) (*fasthttp.HostClient, error) {
	return newClient(u, baseURL, PoolOptions{})
}

func newClient(u provider.Upstream, baseURL string, o PoolOptions) (*fasthttp.HostClient, error) {
	o = o.withDefaults()
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
		Addr:                addr,
		Dial:                dialer(timeout),
		Name:                "switchyard",
		IsTLS:               tlsOn,
		TLSConfig:           &tls.Config{ServerName: pu.Hostname(), MinVersion: tls.VersionTLS12},
		MaxConns:            maxConns,
		MaxIdleConnDuration: 90 * time.Second,
		MaxConnWaitTimeout:  o.MaxConnWait,
		Transport:           transport{}, // cancellable calls (transport.go)
		ReadBufferSize:      o.ReadBufferSize,
		// The write buffer is held only while a request is written.
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
