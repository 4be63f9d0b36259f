package piitest

import (
	"context"
	"errors"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/wasm"
)

// TestFuelPerByte finds, under the host's default budget, the largest prefix
// of the 1 MiB benchmark body's messages that the plugin redacts, and logs
// the fuel that costs per byte (README.md "Fuel" quotes it). It checks that
// the default budget covers a 2 KB body with entities and that the
// benchmarks' budget covers the whole 1 MiB body.
func TestFuelPerByte(t *testing.T) {
	samples, _, err := LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadPlugin(context.Background(), PluginPath, nil, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	fits := func(body []byte) bool {
		_, err := p.Redact(ctx, body, nil, new(plugins.Vault))
		if err != nil && !errors.Is(err, wasm.ErrFuelExhausted) {
			t.Fatalf("Redact: %v", err)
		}
		return err == nil
	}
	if !fits(SmallBody("jane.doe@example.com", "+49 30 12345678", "4111 1111 1111 1111")) {
		t.Fatal("the default fuel budget does not cover a 2 KB body")
	}
	lo, hi := 1, 1000 // messages of ~1 KiB with one entity each
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if body, _ := BigBody(samples[:], 1000); fits(ChatBody(messages(body, mid))) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	body, _ := BigBody(samples, 1000)
	n := len(ChatBody(messages(body, lo)))
	t.Logf("default max_fuel %d covers %d bytes: about %d fuel per byte", wasm.DefaultMaxFuel, n, wasm.DefaultMaxFuel/n)

	big, err := LoadPlugin(ctx, PluginPath, nil, LoadOptions{MaxFuel: benchFuel})
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	if _, err := big.Redact(ctx, body, nil, new(plugins.Vault)); err != nil {
		t.Fatalf("1 MiB body with max_fuel %d: %v", benchFuel, err)
	}
}

// messages returns the user messages' contents of a ChatBody, the first n.
func messages(body []byte, n int) []string {
	texts, _ := Texts(body)
	var out []string
	for _, s := range texts {
		if len(s) > 500 && len(out) < n {
			out = append(out, s)
		}
	}
	return out
}
