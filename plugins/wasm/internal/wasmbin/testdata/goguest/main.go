// Command goguest is the Go guest for the wasmbin round-trip and fuel tests.
// The tests build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o go.wasm .
package main

var buf [65536]byte

// fill writes a deterministic pattern into buf.
//
//go:wasmexport fill
func fill(seed uint32) {
	for i := range buf {
		seed = seed*1664525 + 1013904223
		buf[i] = byte(seed >> 24)
	}
}

// checksum is an Adler-like sum over buf[:n]: the fuel overhead benchmark's hot loop.
//
//go:wasmexport checksum
func checksum(n uint32) uint32 {
	if n > uint32(len(buf)) {
		n = uint32(len(buf))
	}
	a, b := uint32(1), uint32(0)
	for _, c := range buf[:n] {
		a += uint32(c)
		b += a
	}
	return a ^ b<<16
}

//go:wasmexport fib
func fib(n uint32) uint32 {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// words exercises maps, strings and the allocator.
//
//go:wasmexport words
func words(n uint32) uint32 {
	seen := map[string]int{}
	for i := uint32(0); i < n; i++ {
		seen[string(rune('a'+i%26))]++
	}
	return uint32(len(seen))
}

func main() {}
