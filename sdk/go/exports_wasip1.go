//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/switchyard-dev/switchyard/plugins/abi"
)

// The ABI v1 exports. Each is a thin shim over the portable code in sdk.go.

//go:wasmimport switchyard log
func switchyardLog(level, ptr, n int32)

func hostLog(level Level, msg string) {
	if len(msg) == 0 {
		return
	}
	switchyardLog(int32(level), int32(uintptr(unsafe.Pointer(unsafe.StringData(msg)))), int32(len(msg)))
}

// view returns guest memory [ptr, ptr+n) as a slice.
func view(ptr, n int32) []byte {
	if n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(uint32(ptr)))), n)
}

func pack(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	return abi.Pack(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))), uint32(len(b)))
}

func packString(s string) int64 {
	return abi.Pack(uint32(uintptr(unsafe.Pointer(unsafe.StringData(s)))), uint32(len(s)))
}

// recovered turns a panic in a hook into an error code and a log line; the
// host then discards the instance.
func recovered(res *int64) {
	if r := recover(); r != nil {
		if e, ok := r.(error); ok {
			Log(LevelError, "panic: "+e.Error())
		} else if s, ok := r.(string); ok {
			Log(LevelError, "panic: "+s)
		} else {
			Log(LevelError, "panic")
		}
		*res = -abi.ErrCodeFailed
	}
}

//go:wasmexport switchyard_abi_version
func abiVersion() int32 { return abi.Version }

//go:wasmexport plugin_kinds
func pluginKinds() int32 { return kinds() }

//go:wasmexport plugin_name
func pluginName() int64 { return packString(name) }

//go:wasmexport plugin_version
func pluginVersion() int64 { return packString(version) }

//go:wasmexport alloc
func alloc(n int32) int32 {
	if n < 0 {
		return 0
	}
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(state.alloc(n)))))
}

//go:wasmexport init
func initExport(ptr, n int32) (res int32) {
	defer func() {
		if r := recover(); r != nil {
			Log(LevelError, "panic in init")
			res = abi.ErrCodeFailed
		}
	}()
	return state.init(view(ptr, n))
}

//go:wasmexport route
func routeExport(ptr, n int32) (res int64) {
	defer recovered(&res)
	return state.route(view(ptr, n))
}

//go:wasmexport redact
func redactExport(ptr, n int32) (res int64) {
	defer recovered(&res)
	return state.redact(view(ptr, n))
}
