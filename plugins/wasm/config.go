package wasm

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

// ErrBadConfig is wrapped by every error a Config's validation returns.
var ErrBadConfig = errors.New("wasm: bad plugin config")

// Defaults for zero fields of Config. They live here and nowhere else: the
// config loader leaves a field it was not given at zero.
const (
	// DefaultBaseFuel is the fixed part of a call's CPU budget: it stops an
	// infinite loop on a small body after a few ms of CPU (BenchmarkInfiniteLoop).
	DefaultBaseFuel = 10_000_000
	// DefaultFuelPerByte is the allowance per byte of the call's input
	// record, so that big bodies get a budget in proportion. The demo's Go
	// redact-email spends about 7 fuel per byte scanning text and about
	// 21,000 per address it rewrites (plus the Go SDK's lookup of earlier
	// placeholders): a 1 MiB body with 2,000 addresses, 20 of them distinct,
	// costs about 140M and gets 10M + 1 MiB × 300 ≈ 325M (docs/abi.md §7).
	DefaultFuelPerByte = 300
	// DefaultMaxFuel caps one call's budget however big its input.
	DefaultMaxFuel   = 4_000_000_000
	DefaultMaxMemory = 64 << 20
	DefaultMaxCalls  = 10_000
	// DefaultCallTimeout is the wall-clock backstop of one hook call, checked
	// in every host function (a guest that loops in its own code is bounded
	// by fuel; one that loops calling the host by this too).
	DefaultCallTimeout = time.Second
	// DefaultInitTimeout is the backstop of one instance's start-up
	// (_initialize, init and the first alloc).
	DefaultInitTimeout = 5 * time.Second
	// DefaultMaxPlaceholders caps the vault's pairs per request.
	DefaultMaxPlaceholders = 10_000
	// DefaultMaxOriginalBytes caps the total original bytes in the vault per request.
	DefaultMaxOriginalBytes = 4 << 20
	// FailureThreshold is K: this many failed calls in a row make the plugin
	// unhealthy (Healthy returns an error) and rebuild its pool.
	FailureThreshold = 5
	// initFuelFactor multiplies the base fuel for _initialize and init,
	// which run a language runtime's start-up once per instance.
	initFuelFactor = 100
	// maxFuelPerByte bounds FuelPerByte so that a budget cannot overflow.
	maxFuelPerByte = 1 << 20
	// maxPages caps max_memory at 2 GiB so that a packed result (ptr<<32|len)
	// is never negative.
	maxPages = 32768
)

// DefaultPoolSize is the pool size of a zero Config.PoolSize: two instances
// per CPU the process may use.
func DefaultPoolSize() int { return 2 * runtime.GOMAXPROCS(0) }

// Config is one plugin, as the host needs it. The zero value of every field
// but Wasm means its default; Load validates it and never modifies the
// caller's value. router/config maps the YAML onto it.
type Config struct {
	// Name is the configured name, for logs, metrics and policy messages;
	// "" = the module's own plugin_name.
	Name string
	// Kind is the hooks to serve; 0 = every hook the module serves. A module
	// that does not serve every configured hook is refused.
	Kind plugins.Kind
	// Wasm is the module file's path. Load reads it; a Set watches it.
	Wasm string
	// OnError is the failure policy (default: open for route, closed for redact).
	OnError plugins.OnError
	// InitConfig is the JSON object passed to the guest's init; nil = {}.
	InitConfig []byte

	// BaseFuel + FuelPerByte × input record bytes is one call's CPU budget,
	// capped at MaxFuel. FuelPerByte < 0 means no allowance per byte.
	BaseFuel    int64
	FuelPerByte int64
	MaxFuel     int64
	// CallTimeout and InitTimeout are the wall-clock backstops of one call and
	// of one instance's start-up.
	CallTimeout time.Duration
	InitTimeout time.Duration

	// MaxMemory caps one instance's linear memory, in bytes (≤ 2 GiB).
	MaxMemory int64
	// PoolSize is the number of prewarmed instances; default DefaultPoolSize().
	PoolSize int
	// MaxCalls recycles an instance after this many calls.
	MaxCalls int

	// MaxPlaceholders and MaxOriginalBytes cap what redactors may put in one
	// request's vault; a redactor that goes past either fails.
	MaxPlaceholders  int
	MaxOriginalBytes int
}

// withDefaults returns a copy of c with every zero field set to its default,
// or an error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	bad := func(field string, v any) (Config, error) {
		return Config{}, fmt.Errorf("%w: plugin %q: %s %v", ErrBadConfig, c.Name, field, v)
	}
	if c.Kind&^(plugins.KindRoute|plugins.KindRedact) != 0 {
		return bad("kind", c.Kind)
	}
	if c.OnError > plugins.OnErrorClosed {
		return bad("on_error", c.OnError)
	}
	for _, f := range []struct {
		name string
		v    *int64
		def  int64
	}{
		{"base fuel", &c.BaseFuel, DefaultBaseFuel},
		{"max fuel", &c.MaxFuel, DefaultMaxFuel},
		{"max memory", &c.MaxMemory, DefaultMaxMemory},
	} {
		if *f.v < 0 {
			return bad(f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	switch {
	case c.FuelPerByte > maxFuelPerByte:
		return bad("fuel per byte", c.FuelPerByte)
	case c.FuelPerByte == 0:
		c.FuelPerByte = DefaultFuelPerByte
	case c.FuelPerByte < 0:
		c.FuelPerByte = 0
	}
	if c.MaxMemory > maxPages*65536 {
		return bad("max memory", c.MaxMemory)
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"call timeout", &c.CallTimeout, DefaultCallTimeout}, {"init timeout", &c.InitTimeout, DefaultInitTimeout}} {
		if *f.v < 0 {
			return bad(f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"pool size", &c.PoolSize, DefaultPoolSize()},
		{"max calls", &c.MaxCalls, DefaultMaxCalls},
		{"max placeholders", &c.MaxPlaceholders, DefaultMaxPlaceholders},
		{"max original bytes", &c.MaxOriginalBytes, DefaultMaxOriginalBytes},
	} {
		if *f.v < 0 {
			return bad(f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.InitConfig == nil {
		c.InitConfig = []byte("{}")
	} else {
		c.InitConfig = append([]byte(nil), c.InitConfig...)
	}
	return c, nil
}

// budget is the fuel of a call whose input record is n bytes.
func (c *Config) budget(n int) int64 {
	f := c.BaseFuel + c.FuelPerByte*int64(n)
	return min(f, c.MaxFuel)
}
