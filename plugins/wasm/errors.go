package wasm

import (
	"context"
	"errors"
	"strconv"

	"github.com/tetratelabs/wazero/sys"
)

// Errors a plugin call or load can fail with. Calls wrap them with the
// plugin's name; test with errors.Is.
var (
	ErrClosed        = errors.New("wasm: plugin closed")
	ErrFuelExhausted = errors.New("wasm: fuel exhausted")
	ErrTrap          = errors.New("wasm: trap")
	ErrExited        = errors.New("wasm: guest exited")
	ErrBadOutput     = errors.New("wasm: bad output")
	ErrGuest         = errors.New("wasm: plugin returned an error")
	ErrABI           = errors.New("wasm: incompatible module")
	ErrImport        = errors.New("wasm: forbidden import")
	ErrNoHook        = errors.New("wasm: hook not exported")
	ErrInit          = errors.New("wasm: init failed")
	ErrTooLarge      = errors.New("wasm: input record too large")
	ErrInstantiate   = errors.New("wasm: instantiate failed")
	ErrTimeout       = errors.New("wasm: wall-clock limit passed")
	ErrCanceled      = errors.New("wasm: call's context ended")
)

// callError is a failed call: the sentinel kind plus the cause. It is built
// only on the failure path.
type callError struct {
	kind  error
	code  int32 // guest error code for ErrGuest
	cause error
}

func (e *callError) Error() string {
	s := e.kind.Error()
	if e.code != 0 {
		s += " (code " + strconv.Itoa(int(e.code)) + ")"
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *callError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// Reason returns a short phrase for err, without content, for the policy's
// client-facing message: "fuel exhausted", "trap", "bad output", …
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrFuelExhausted):
		return "fuel exhausted"
	case errors.Is(err, ErrTimeout):
		return "time limit passed"
	case errors.Is(err, ErrCanceled):
		return "request ended"
	case errors.Is(err, ErrExited):
		return "guest exited"
	case errors.Is(err, ErrTrap):
		return "trap"
	case errors.Is(err, ErrBadOutput):
		return "bad output"
	case errors.Is(err, ErrGuest):
		return "plugin returned an error"
	case errors.Is(err, ErrTooLarge):
		return "input too large"
	case errors.Is(err, ErrClosed):
		return "plugin closed"
	case errors.Is(err, ErrInstantiate), errors.Is(err, ErrInit):
		return "instance failed to start"
	}
	return "error"
}

// classify turns an error from a wazero call into a callError. fuelLeft is
// the fuel global after the call (meaningful only when hasFuel).
func classify(err error, hasFuel bool, fuelLeft int64) error {
	var exit *sys.ExitError
	switch {
	case hasFuel && fuelLeft < 0, errors.Is(err, errHostFuel):
		return &callError{kind: ErrFuelExhausted}
	case errors.Is(err, errHostDeadline):
		return &callError{kind: ErrTimeout}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &callError{kind: ErrCanceled, cause: err}
	case errors.As(err, &exit):
		return &callError{kind: ErrExited, cause: err}
	}
	return &callError{kind: ErrTrap, cause: err}
}

var (
	errRouteOutput    = errors.New("route output is not a list of u32 indices within the upstream table")
	errRouteIndex     = errors.New("route output holds an index outside the upstream table")
	errRouteDuplicate = errors.New("route output names an upstream twice")
	errRedactEmpty    = errors.New("redact output has an empty body")
	errVaultFull      = errors.New("redact output goes past the request's cap on placeholders or original bytes")
	errRedactBounds   = errors.New("redact output lies outside memory")
	errRedactRecord   = errors.New("redact output record is malformed")
)
