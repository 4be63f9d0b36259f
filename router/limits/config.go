package limits

import (
	"fmt"
	"math"
	"time"
)

// Defaults applied by the constructors to zero config fields.
const (
	// DefaultReloadInterval is how often Keys checks its file for a change
	// made by another writer.
	DefaultReloadInterval = 2 * time.Second
	// MaxRate bounds a per-minute limit. Why a bound? The arithmetic stays
	// exact in float64 well beyond it, and a larger number is a typo.
	MaxRate = 1 << 40
	// MaxBudget bounds a budget in currency units (Money must not overflow).
	MaxBudget = 1e9
)

// Limits are what one scope — a tenant as a whole, or one key — may use.
// A zero field is "no limit" for that dimension.
type Limits struct {
	// RequestsPerMinute bounds requests per rolling minute.
	RequestsPerMinute int64
	// TokensPerMinute bounds input + output tokens per rolling minute,
	// counted from the estimate when the request is admitted and corrected
	// to the real usage as it becomes known.
	TokensPerMinute int64
	// DailyBudget bounds spend per UTC day, in currency units (e.g. USD).
	DailyBudget float64
	// MonthlyBudget bounds spend per UTC calendar month, in currency units.
	MonthlyBudget float64
}

// IsZero reports whether l limits nothing.
func (l Limits) IsZero() bool { return l == Limits{} }

// merged returns l with every zero field taken from base (a key's own limits
// over its tenant's per-key defaults).
func (l Limits) merged(base Limits) Limits {
	if l.RequestsPerMinute == 0 {
		l.RequestsPerMinute = base.RequestsPerMinute
	}
	if l.TokensPerMinute == 0 {
		l.TokensPerMinute = base.TokensPerMinute
	}
	if l.DailyBudget == 0 {
		l.DailyBudget = base.DailyBudget
	}
	if l.MonthlyBudget == 0 {
		l.MonthlyBudget = base.MonthlyBudget
	}
	return l
}

// validate reports the first invalid field of l, named under path.
func (l Limits) validate(path string) error {
	switch {
	case l.RequestsPerMinute < 0 || l.RequestsPerMinute > MaxRate:
		return fmt.Errorf("%w: %s.requests_per_minute %d: want 0..%d", ErrConfig, path, l.RequestsPerMinute, int64(MaxRate))
	case l.TokensPerMinute < 0 || l.TokensPerMinute > MaxRate:
		return fmt.Errorf("%w: %s.tokens_per_minute %d: want 0..%d", ErrConfig, path, l.TokensPerMinute, int64(MaxRate))
	case !validBudget(l.DailyBudget):
		return fmt.Errorf("%w: %s.daily_budget %v: want 0..%g", ErrConfig, path, l.DailyBudget, MaxBudget)
	case !validBudget(l.MonthlyBudget):
		return fmt.Errorf("%w: %s.monthly_budget %v: want 0..%g", ErrConfig, path, l.MonthlyBudget, MaxBudget)
	}
	return nil
}

func validBudget(v float64) bool { return v >= 0 && v <= MaxBudget && !math.IsNaN(v) }

// Rule is Limits in the units a Store works in; the Limiter builds one per
// scope and generation and passes it on every call, so a Store never holds
// the numbers and a reload applies new ones to the same counters. A zero
// field is "no limit".
type Rule struct {
	RequestsPerMinute, TokensPerMinute float64
	Daily, Monthly                     Money
}

func (l Limits) rule() Rule {
	return Rule{
		RequestsPerMinute: float64(l.RequestsPerMinute),
		TokensPerMinute:   float64(l.TokensPerMinute),
		Daily:             MoneyOf(l.DailyBudget),
		Monthly:           MoneyOf(l.MonthlyBudget),
	}
}

// Money is an amount of currency in nano-units (1e-9). Why integers? Budget
// counters are added to from many goroutines and, later, a shared store;
// integer sums are exact and order-independent, floats are neither.
type Money int64

// MoneyOf converts currency units to Money, rounding to the nearest nano-unit.
func MoneyOf(units float64) Money { return Money(math.Round(units * 1e9)) }

// Units returns m in currency units.
func (m Money) Units() float64 { return float64(m) / 1e9 }

// Price is what an upstream charges per million tokens, in currency units —
// the same numbers as upstreams[].price in the config. The core passes the
// serving upstream's price at Settle, and optionally an estimate at Reserve.
type Price struct {
	Input, Output float64
}

// Cost returns what in input and out output tokens cost at p. A price per
// million tokens times a token count is micro-units; ×1000 is nano-units.
func (p Price) Cost(in, out int64) Money {
	return Money(math.Round((float64(in)*p.Input + float64(out)*p.Output) * 1e3))
}

// RulesConfig is the per-generation part: the numbers for each tenant. It is
// built from tenants[].limits in the YAML.
type RulesConfig struct {
	Tenants []TenantConfig
}

// TenantConfig is the limits of one tenant.
type TenantConfig struct {
	// Name is the tenant's name as in tenants[].name; counters are keyed by it.
	Name string
	// Limits bound the tenant as a whole (all its keys together).
	Limits Limits
	// PerKey are the default limits of each managed key of the tenant; a
	// key's own limits (set when it is created) override them field by field.
	PerKey Limits
}

// Config configures a Limiter (process lifetime).
type Config struct {
	// Store holds the counters. nil: an in-memory store (NewMemoryStore) on
	// this PoP. A shared store (Redis) implements the same interface.
	Store Store
	// Now is the clock; nil means time.Now. Tests pass a controlled clock.
	Now func() time.Time
}

// KeysConfig configures a Keys (process lifetime).
type KeysConfig struct {
	// Path is the key file. It is created (mode 0600, with a fresh salt) when
	// missing. Empty: no managed keys (Open returns ErrNoKeyFile).
	Path string
	// ReloadInterval is how often the file is checked for a change made by
	// another writer (an operator's copy, another process). 0 means
	// DefaultReloadInterval; negative turns the watch off (Reload only).
	ReloadInterval time.Duration
	// OnReload, when set, is called after every reload the watch performs,
	// with nil, and once when the file starts failing to stat, read or parse,
	// with the error (the keys in force stay). It must not block.
	OnReload func(error)
	// Now is the clock for expiry; nil means time.Now.
	Now func() time.Time
}
