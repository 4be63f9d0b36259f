package fuel_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/switchyard-dev/switchyard/plugins/wasm/internal/fuel"
)

// The host instruments a module once at load, then sets the budget before
// each call and reads the counter after a trap.
func ExampleInstrument() {
	orig, err := os.ReadFile("testdata/guest.wasm")
	if err != nil {
		panic(err)
	}
	bin, err := fuel.Instrument(orig)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, bin)
	if err != nil {
		panic(err)
	}
	budget := mod.ExportedGlobal(fuel.GlobalName).(api.MutableGlobal)

	budget.Set(1_000_000)
	res, err := mod.ExportedFunction("sum").Call(ctx, 1000)
	fmt.Println(res[0], err, "fuel left:", int64(budget.Get()))

	budget.Set(1_000_000)
	_, err = mod.ExportedFunction("spin").Call(ctx)
	fmt.Println("trapped:", err != nil, "exhausted:", int64(budget.Get()) < 0)
	// Output:
	// 499500 <nil> fuel left: 985981
	// trapped: true exhausted: true
}
