package wasm

import "github.com/switchyard-dev/switchyard/plugins/wasm/internal/fuel"

// fuelGlobal is the exported mutable i64 global the fuel rewriter adds. The
// host sets it to max_fuel before each call and reads it after a trap: below
// zero means the guest ran out of fuel. Why fuel and not
// WithCloseOnContextDone? See docs/RATIONALE.md "Why count fuel?".
const fuelGlobal = fuel.GlobalName

// instrument rewrites a module to count fuel at function entries and loop
// headers (package internal/fuel). A variable only so that the fuel overhead
// benchmark can load the same module without it.
var instrument = fuel.Instrument
