//go:build race

package wasm

// raceOn: the race detector slows host code about tenfold, so load tests
// make fewer calls per goroutine (the same concurrency).
const raceOn = true
