// Package abi holds the constants and record layout of Switchyard's plugin
// ABI v1, shared by the host (plugins/wasm) and the guest SDKs (sdk/go).
// docs/abi.md is the specification; this package is its executable half.
//
// It imports nothing but the standard library's math so that it compiles
// unchanged for GOOS=wasip1 guests and for the host.
package abi

import "math"

// Version is the ABI version this package describes. A module declares the
// version it was built for by exporting VersionExport returning it.
const Version = 1

// Exports a module provides. Signatures use Wasm value types.
const (
	VersionExport    = "switchyard_abi_version" // () -> i32: must return Version
	MemoryExport     = "memory"                 // the module's linear memory
	AllocExport      = "alloc"                  // (size i32) -> i32 ptr, 0 on failure
	InitializeExport = "_initialize"            // optional () -> (), called first (WASI reactors)
	InitExport       = "init"                   // (ptr, len i32) -> i32: 0 or an error code
	NameExport       = "plugin_name"            // () -> i64 packed ptr/len
	VersionStrExport = "plugin_version"         // () -> i64 packed ptr/len
	KindsExport      = "plugin_kinds"           // optional () -> i32 KindRoute|KindRedact
	RouteExport      = "route"                  // (ptr, len i32) -> i64 result
	RedactExport     = "redact"                 // (ptr, len i32) -> i64 result
)

// Hook bits returned by KindsExport. Without that export, the hooks the
// module exports are its kinds.
const (
	KindRoute  = 1
	KindRedact = 2
)

// The host's own import module and its functions.
const (
	HostModule = "switchyard"
	// HostLog is log(level i32, ptr i32, len i32): one line to the host log.
	HostLog = "log"
)

// Log levels for HostLog, the same numbers as log/slog's.
const (
	LevelDebug = -4
	LevelInfo  = 0
	LevelWarn  = 4
	LevelError = 8
)

// WASIModule is the only other import module allowed; see docs/abi.md for the
// functions in it.
const WASIModule = "wasi_snapshot_preview1"

// Error codes: a hook returns one as a negative i64, init as a positive i32.
const (
	ErrCodeFailed     = 1 // generic failure inside the plugin
	ErrCodeBadInput   = 2 // the plugin could not decode its input record
	ErrCodeNotHandled = 3 // the hook is exported but no handler is registered
	ErrCodeBadConfig  = 4 // init: the config was refused
)

// Pack packs a guest pointer and length into a hook result. ptr must be below
// 2 GiB so that a result is never negative.
func Pack(ptr, n uint32) int64 { return int64(uint64(ptr)<<32 | uint64(n)) }

// Unpack splits a hook result. code is 0 for a pointer/length pair, else the
// plugin's error code (a result below 0).
func Unpack(r int64) (ptr, n uint32, code int32) {
	if r < 0 {
		if r < math.MinInt32 {
			return 0, 0, math.MaxInt32
		}
		return 0, 0, int32(-r)
	}
	return uint32(uint64(r) >> 32), uint32(r), 0
}

// Route record flags.
const (
	FlagStream        = 1 << 0
	FlagDeterministic = 1 << 1
)

// Upstream row flags.
const UpstreamHealthy = 1 << 0

// UpstreamFixedSize is the size of an upstream row after its three strings:
// flags, latency_us, ttfb_us, in_flight, error_rate, price_in, price_out, weight.
const UpstreamFixedSize = 8 * 4

// RouteHeaderSize is the size of a route record before its strings: flags and
// prompt_tokens.
const RouteHeaderSize = 8

// PutU32 writes v little-endian at b[0:4].
func PutU32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// U32 reads a little-endian uint32 from b[0:4].
func U32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Writer appends ABI values to a caller-owned buffer with a fixed capacity:
// it never grows it, so the host can write straight into guest memory. Ok
// reports whether everything fitted.
type Writer struct {
	B   []byte
	Off int
	bad bool
}

// Reset points w at b, writing from its start.
func (w *Writer) Reset(b []byte) { w.B, w.Off, w.bad = b, 0, false }

// Ok reports whether every write fitted.
func (w *Writer) Ok() bool { return !w.bad }

// U32 writes v.
func (w *Writer) U32(v uint32) {
	if w.bad || len(w.B)-w.Off < 4 {
		w.bad = true
		return
	}
	PutU32(w.B[w.Off:], v)
	w.Off += 4
}

// F32 writes v as IEEE 754 bits.
func (w *Writer) F32(v float32) { w.U32(math.Float32bits(v)) }

// Bytes writes a length-prefixed byte string.
func (w *Writer) Bytes(b []byte) {
	w.U32(uint32(len(b)))
	if w.bad || len(w.B)-w.Off < len(b) {
		w.bad = true
		return
	}
	w.Off += copy(w.B[w.Off:], b)
}

// String writes a length-prefixed string.
func (w *Writer) String(s string) {
	w.U32(uint32(len(s)))
	if w.bad || len(w.B)-w.Off < len(s) {
		w.bad = true
		return
	}
	w.Off += copy(w.B[w.Off:], s)
}

// Reader decodes ABI values with bounds checks: reading past the end sets a
// sticky error and returns zero values, so a malformed record never panics.
type Reader struct {
	B   []byte
	Off int
	bad bool
}

// Reset points r at b.
func (r *Reader) Reset(b []byte) { r.B, r.Off, r.bad = b, 0, false }

// Ok reports whether every read was in bounds.
func (r *Reader) Ok() bool { return !r.bad }

// Done reports whether every read was in bounds and everything was read.
func (r *Reader) Done() bool { return !r.bad && r.Off == len(r.B) }

// U32 reads a uint32.
func (r *Reader) U32() uint32 {
	if r.bad || len(r.B)-r.Off < 4 {
		r.bad = true
		return 0
	}
	v := U32(r.B[r.Off:])
	r.Off += 4
	return v
}

// F32 reads a float32.
func (r *Reader) F32() float32 { return math.Float32frombits(r.U32()) }

// Bytes reads a length-prefixed byte string as a view into the record.
func (r *Reader) Bytes() []byte {
	n := r.U32()
	if r.bad || uint64(len(r.B)-r.Off) < uint64(n) {
		r.bad = true
		return nil
	}
	b := r.B[r.Off : r.Off+int(n) : r.Off+int(n)]
	r.Off += int(n)
	return b
}
