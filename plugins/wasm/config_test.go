package wasm

import (
	"errors"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/plugins"
)

func TestConfigDefaults(t *testing.T) {
	in := Config{Name: "p", InitConfig: []byte(`{"a":1}`)}
	c, err := in.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseFuel != DefaultBaseFuel || c.FuelPerByte != DefaultFuelPerByte || c.MaxFuel != DefaultMaxFuel ||
		c.MaxMemory != DefaultMaxMemory || c.MaxCalls != DefaultMaxCalls || c.PoolSize != DefaultPoolSize() ||
		c.CallTimeout != DefaultCallTimeout || c.InitTimeout != DefaultInitTimeout ||
		c.MaxPlaceholders != DefaultMaxPlaceholders || c.MaxOriginalBytes != DefaultMaxOriginalBytes {
		t.Fatalf("defaults %+v", c)
	}
	// The caller's value is not changed, and does not share InitConfig.
	c.InitConfig[0] = 'X'
	if in.BaseFuel != 0 || in.PoolSize != 0 || string(in.InitConfig) != `{"a":1}` {
		t.Fatalf("caller's config changed: %+v", in)
	}
	if c, _ := (Config{}).withDefaults(); string(c.InitConfig) != "{}" {
		t.Fatalf("nil InitConfig = %q", c.InitConfig)
	}
	if c, _ := (Config{FuelPerByte: -1}).withDefaults(); c.FuelPerByte != 0 {
		t.Fatalf("FuelPerByte -1 = %d, want none", c.FuelPerByte)
	}
	if b := (&Config{BaseFuel: 10, FuelPerByte: 2, MaxFuel: 100}).budget(30); b != 70 {
		t.Fatalf("budget = %d", b)
	}
	if b := (&Config{BaseFuel: 10, FuelPerByte: 2, MaxFuel: 50}).budget(30); b != 50 {
		t.Fatalf("capped budget = %d", b)
	}
	for _, bad := range []Config{
		{BaseFuel: -1}, {MaxFuel: -1}, {MaxMemory: -1}, {MaxMemory: 3 << 30}, {PoolSize: -1}, {MaxCalls: -1},
		{CallTimeout: -time.Second}, {InitTimeout: -1}, {MaxPlaceholders: -1}, {MaxOriginalBytes: -1},
		{FuelPerByte: 1 << 30}, {Kind: plugins.Kind(4)}, {OnError: plugins.OnError(9)},
	} {
		if _, err := bad.withDefaults(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("withDefaults(%+v) = %v, want ErrBadConfig", bad, err)
		}
	}
}
