package fuel

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/switchyard-dev/switchyard/plugins/wasm/internal/wasmbin"
)

// FuzzInstrument checks that Instrument never panics, refuses exactly what
// wasmbin refuses (or an existing fuel export), and that whenever wazero
// accepts the original module it accepts the instrumented one too, with the
// default region threshold and with every region charged.
func FuzzInstrument(f *testing.F) {
	for _, p := range []string{"testdata/guest.wasm", "../wasmbin/testdata/all.wasm", "../wasmbin/testdata/rust.wasm"} {
		f.Add(readFile(f, p))
	}
	ctx := context.Background()
	// The interpreter validates exactly like the compiler and compiles faster.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	f.Cleanup(func() { r.Close(ctx) })
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Instrument(b)
		if err != nil {
			if _, derr := wasmbin.Decode(b); derr == nil && !errors.Is(err, ErrAlreadyInstrumented) && !errors.Is(err, ErrBadTypeIndex) {
				t.Fatalf("decodable module refused: %v", err)
			}
			return
		}
		if _, err := wasmbin.Decode(out); err != nil {
			t.Fatalf("instrumented module does not decode: %v", err)
		}
		cm, err := r.CompileModule(ctx, b)
		if err != nil {
			return
		}
		cm.Close(ctx)
		split, err := instrumentWith(b, 1)
		if err != nil {
			t.Fatalf("split variant refused what the default accepted: %v", err)
		}
		for _, bin := range [][]byte{out, split} {
			cm, err = r.CompileModule(ctx, bin)
			if err != nil {
				t.Fatalf("original compiles, instrumented does not: %v", err)
			}
			cm.Close(ctx)
		}
	})
}
