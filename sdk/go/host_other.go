//go:build !wasip1

package sdk

import (
	"unsafe"

	"github.com/switchyard-dev/switchyard/plugins/abi"
)

// Outside wasip1 (the SDK's own tests, a plugin's unit tests) log lines go
// to LogSink and results are packed with the slice's address truncated,
// which only tests decode (through lastOutput).

// LogSink receives Log lines when the SDK runs outside a Wasm guest, e.g.
// in a plugin's unit tests. nil drops them.
var LogSink func(level Level, msg string)

func hostLog(level Level, msg string) {
	if LogSink != nil {
		LogSink(level, msg)
	}
}

func pack(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	return abi.Pack(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))&0x7fffffff), uint32(len(b)))
}
