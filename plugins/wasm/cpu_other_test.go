//go:build !linux

package wasm

import "time"

var benchStart = time.Now()

// threadCPU falls back to wall time where thread CPU time is not available.
func threadCPU() time.Duration { return time.Since(benchStart) }
