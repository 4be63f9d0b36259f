package plugins

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadKind and ErrBadOnError report an unknown plugin kind or on_error value.
var (
	ErrBadKind    = errors.New("plugins: bad kind")
	ErrBadOnError = errors.New("plugins: bad on_error")
)

// Kind is a set of hooks a plugin implements.
type Kind uint8

// The hooks of ABI v1.
const (
	KindRoute Kind = 1 << iota
	KindRedact
)

// ParseKind parses config's kind: "route", "redact" or "route,redact".
func ParseKind(s string) (Kind, error) {
	var k Kind
	for part := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(part) {
		case "route":
			k |= KindRoute
		case "redact":
			k |= KindRedact
		default:
			return 0, fmt.Errorf("%w %q: want route, redact or route,redact", ErrBadKind, s)
		}
	}
	return k, nil
}

// Has reports whether every hook in x is in k.
func (k Kind) Has(x Kind) bool { return x != 0 && k&x == x }

func (k Kind) String() string {
	switch k {
	case KindRoute:
		return "route"
	case KindRedact:
		return "redact"
	case KindRoute | KindRedact:
		return "route,redact"
	case 0:
		return ""
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// OnError is a plugin's failure policy: what a request gets when the plugin
// traps, runs out of fuel or returns something malformed.
type OnError uint8

const (
	// OnErrorDefault is open for the route hook and closed for the redact
	// hook: a missing routing opinion costs little, a leak of PII costs a lot.
	OnErrorDefault OnError = iota
	// OnErrorOpen skips the plugin: the request goes on as if it had no opinion.
	OnErrorOpen
	// OnErrorClosed rejects the request with a 503 *Error.
	OnErrorClosed
)

// ParseOnError parses config's on_error: "", "open" or "closed".
func ParseOnError(s string) (OnError, error) {
	switch s {
	case "":
		return OnErrorDefault, nil
	case "open":
		return OnErrorOpen, nil
	case "closed":
		return OnErrorClosed, nil
	}
	return 0, fmt.Errorf("%w %q: want open or closed", ErrBadOnError, s)
}

// Closed reports whether a failure of hook rejects the request.
func (o OnError) Closed(hook Kind) bool {
	switch o {
	case OnErrorOpen:
		return false
	case OnErrorClosed:
		return true
	}
	return hook == KindRedact
}

func (o OnError) String() string {
	switch o {
	case OnErrorOpen:
		return "open"
	case OnErrorClosed:
		return "closed"
	}
	return "default"
}
