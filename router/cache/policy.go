package cache

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// Policy decides which requests the cache may answer and fill.
type Policy uint8

const (
	// Deterministic caches requests whose answer does not depend on sampling:
	// temperature 0, top_p 0, or an explicit seed. It is the default (zero value).
	Deterministic Policy = iota
	// Off never looks up and never stores.
	Off
	// Always caches every request, sampled or not: the first answer is replayed.
	Always
)

// ParsePolicy parses a config value: "" and "deterministic", "always", "off".
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "deterministic":
		return Deterministic, nil
	case "always":
		return Always, nil
	case "off":
		return Off, nil
	}
	return Off, fmt.Errorf("%w: %q (want deterministic, always or off)", ErrPolicy, s)
}

// String returns the config spelling of p.
func (p Policy) String() string {
	switch p {
	case Deterministic:
		return "deterministic"
	case Always:
		return "always"
	case Off:
		return "off"
	}
	return "invalid"
}

// Params are the request fields cacheability depends on. The router fills them
// from its own zero-alloc scan of the body; the cache never parses the body for
// this. A field absent from the body, or null, has its Has flag false.
type Params struct {
	Temperature    float64
	HasTemperature bool
	TopP           float64
	HasTopP        bool
	// HasSeed is true when the body carries a non-null "seed".
	HasSeed bool
	// N is the number of choices asked for; 0 means absent (1).
	N int
}

// Cacheable reports whether a request with these parameters may be answered
// from, and stored in, the cache under policy p. Deterministic accepts
// temperature 0, top_p 0 or a seed; n does not matter (all choices are stored
// and replayed together). It allocates nothing.
func (p Policy) Cacheable(r *Params) bool {
	switch p {
	case Always:
		return true
	case Deterministic:
		return (r.HasTemperature && r.Temperature == 0) ||
			(r.HasTopP && r.TopP == 0) ||
			r.HasSeed
	}
	return false
}

// stricter orders policies from most to least permissive: Off is the strictest.
func stricter(a, b Policy) Policy {
	rank := func(p Policy) int {
		switch p {
		case Off:
			return 0
		case Deterministic:
			return 1
		}
		return 2
	}
	if rank(a) <= rank(b) {
		return a
	}
	return b
}

// Policies resolves the effective policy of one request: cache.policy, overridden
// by the tenant's cache_policy and by cache.models[model]. When both a tenant and
// a model override apply, the stricter one wins (off < deterministic < always),
// so "off" set for a model or for a tenant always holds.
//
// A Policies is immutable after NewPolicies and safe for concurrent use; on a
// config reload build a new one and swap it.
type Policies struct {
	global  Policy
	tenants map[string]Policy
	models  map[string]Policy
}

// PolicyConfig is what the policies are built from: the default policy
// ("" = deterministic), and overrides per tenant name and per public model
// name ("" entries are ignored).
type PolicyConfig struct {
	Default string
	Tenants map[string]string
	Models  map[string]string
}

// NewPolicies builds the resolver, checking every policy string; it reports
// all bad values at once.
func NewPolicies(cfg PolicyConfig) (*Policies, error) {
	var errs []error
	p := &Policies{tenants: map[string]Policy{}, models: map[string]Policy{}}
	var err error
	if p.global, err = ParsePolicy(cfg.Default); err != nil {
		errs = append(errs, fmt.Errorf("cache.policy: %w", err))
	}
	for name, s := range cfg.Tenants {
		if s == "" {
			continue
		}
		tp, err := ParsePolicy(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %q cache_policy: %w", name, err))
			continue
		}
		p.tenants[name] = tp
	}
	for m, s := range cfg.Models {
		mp, err := ParsePolicy(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("cache.models.%s: %w", m, err))
			continue
		}
		p.models[m] = mp
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// For returns the policy for tenant and model. It allocates nothing.
func (p *Policies) For(tenant string, model []byte) Policy {
	tp, tok := p.tenants[tenant]
	mp, mok := p.models[string(model)]
	switch {
	case tok && mok:
		return stricter(tp, mp)
	case tok:
		return tp
	case mok:
		return mp
	}
	return p.global
}

// Control is what the client asked of the cache through request headers.
// When several directives are present the strongest wins, in this order:
// Bypass, NoStore, OnlyIfCached, Refresh, NoCache, Default.
type Control uint8

const (
	// Default: look up, and store on a miss.
	Default Control = iota
	// NoCache (Cache-Control: no-cache): skip the lookup, still store the answer.
	NoCache
	// Refresh (x-switchyard-cache: refresh): like NoCache; the router reports "refresh".
	Refresh
	// OnlyIfCached (x-switchyard-cache or Cache-Control: only-if-cached): look up;
	// on a miss answer 504 without calling upstream, as HTTP does.
	OnlyIfCached
	// NoStore (Cache-Control: no-store): neither look up nor store.
	NoStore
	// Bypass (x-switchyard-cache: bypass): neither look up nor store.
	Bypass
)

// Lookup reports whether the cache may answer the request.
func (c Control) Lookup() bool { return c == Default || c == OnlyIfCached }

// Store reports whether the upstream answer may be stored.
func (c Control) Store() bool { return c == Default || c == NoCache || c == Refresh }

// String names the control for logs and tests.
func (c Control) String() string {
	return [...]string{"default", "no-cache", "refresh", "only-if-cached", "no-store", "bypass"}[c]
}

// ParseControl reads the request's Cache-Control and x-switchyard-cache header
// values (either may be empty). Directives are case-insensitive and
// comma-separated; unknown ones are ignored, as HTTP caches do. maxAge is the
// client's Cache-Control max-age (hasMaxAge false when absent or malformed);
// pass it to Cache.TTL, which clamps it to cache.max_ttl. It allocates nothing.
func ParseControl(cacheControl, xSwitchyardCache []byte) (c Control, maxAge time.Duration, hasMaxAge bool) {
	for rest := cacheControl; len(rest) > 0; {
		var d []byte
		d, rest = nextDirective(rest)
		switch {
		case bytesEqualFold(d, "no-cache"):
			c = max(c, NoCache)
		case bytesEqualFold(d, "no-store"):
			c = max(c, NoStore)
		case bytesEqualFold(d, "only-if-cached"):
			c = max(c, OnlyIfCached)
		case len(d) > 8 && bytesEqualFold(d[:8], "max-age="):
			if v, ok := parseSeconds(d[8:]); ok {
				maxAge, hasMaxAge = v, true
			}
		}
	}
	for rest := xSwitchyardCache; len(rest) > 0; {
		var d []byte
		d, rest = nextDirective(rest)
		switch {
		case bytesEqualFold(d, "bypass"):
			c = max(c, Bypass)
		case bytesEqualFold(d, "refresh"):
			c = max(c, Refresh)
		case bytesEqualFold(d, "only-if-cached"):
			c = max(c, OnlyIfCached)
		}
	}
	return c, maxAge, hasMaxAge
}

// nextDirective splits off the first comma-separated directive, trimmed of
// spaces, tabs and an optional quoted value's quotes.
func nextDirective(b []byte) (d, rest []byte) {
	if i := bytes.IndexByte(b, ','); i >= 0 {
		d, rest = b[:i], b[i+1:]
	} else {
		d = b
	}
	for len(d) > 0 && (d[0] == ' ' || d[0] == '\t') {
		d = d[1:]
	}
	for len(d) > 0 && (d[len(d)-1] == ' ' || d[len(d)-1] == '\t') {
		d = d[:len(d)-1]
	}
	return d, rest
}

// bytesEqualFold compares b with the lower-case ASCII s, ignoring ASCII case.
func bytesEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// parseSeconds parses delta-seconds (RFC 9111 §1.2.2), optionally quoted.
// Values beyond 2^31 saturate, as the RFC asks.
func parseSeconds(b []byte) (time.Duration, bool) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1<<31 {
			n = n*10 + int64(c-'0')
		}
	}
	n = min(n, 1<<31)
	return time.Duration(n) * time.Second, true
}
