package native

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors a load or a call can fail with; test with errors.Is. A call's
// error reaches the caller only as the cause inside a *plugins.Error (on_error
// closed); with on_error open the call has no opinion instead.
var (
	ErrConfig      = errors.New("native: bad config")
	ErrStart       = errors.New("native: plugin failed to start")
	ErrNoHook      = errors.New("native: hook not served")
	ErrClosed      = errors.New("native: plugin closed")
	ErrNotRunning  = errors.New("native: plugin process not running")
	ErrTimeout     = errors.New("native: call timed out")
	ErrUnavailable = errors.New("native: plugin process unavailable")
	ErrGuest       = errors.New("native: plugin returned an error")
	ErrBadOutput   = errors.New("native: bad output")
)

// reason is the short phrase for the policy's client-facing message.
func reason(err error) string {
	switch {
	case errors.Is(err, ErrTimeout):
		return "timed out"
	case errors.Is(err, ErrNotRunning), errors.Is(err, ErrUnavailable):
		return "process not running"
	case errors.Is(err, ErrGuest):
		return "plugin returned an error"
	case errors.Is(err, ErrBadOutput):
		return "bad output"
	case errors.Is(err, ErrNoHook):
		return "hook not served"
	case errors.Is(err, ErrClosed):
		return "plugin closed"
	}
	return "error"
}

// callError is a failed call: the sentinel kind and the gRPC code. The
// guest's own message is dropped on purpose: it may quote the request.
type callError struct {
	kind error
	code codes.Code
}

func (e *callError) Error() string {
	if e.code == codes.OK {
		return e.kind.Error()
	}
	return e.kind.Error() + " (grpc " + e.code.String() + ")"
}

func (e *callError) Unwrap() error { return e.kind }

// classify turns a gRPC call's error into a callError. callCtx is the call's
// own context (with the per-call timeout).
func classify(callCtx context.Context, err error) *callError {
	st, _ := status.FromError(err)
	code := st.Code()
	switch {
	case errors.Is(callCtx.Err(), context.DeadlineExceeded) || code == codes.DeadlineExceeded:
		return &callError{kind: ErrTimeout, code: code}
	case code == codes.Unavailable || code == codes.Canceled:
		return &callError{kind: ErrUnavailable, code: code}
	case code == codes.Unimplemented:
		return &callError{kind: ErrNoHook, code: code}
	}
	return &callError{kind: ErrGuest, code: code}
}
