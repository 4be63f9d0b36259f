package limits

import "errors"

// Sentinel errors. Callers match them with errors.Is.
var (
	// ErrConfig: a Config, KeysConfig or RulesConfig is invalid.
	ErrConfig = errors.New("limits: invalid config")
	// ErrKeyUnknown: no key with this secret (or id) exists.
	ErrKeyUnknown = errors.New("limits: unknown key")
	// ErrKeyRevoked: the key was revoked.
	ErrKeyRevoked = errors.New("limits: key revoked")
	// ErrKeyExpired: the key is past its expiry.
	ErrKeyExpired = errors.New("limits: key expired")
	// ErrKeySpec: a KeySpec asks for something invalid (no tenant, bad model pattern, …).
	ErrKeySpec = errors.New("limits: invalid key spec")
	// ErrKeyFile: the key file cannot be parsed or fails validation.
	ErrKeyFile = errors.New("limits: invalid key file")
	// ErrNoKeyFile: managed keys are not configured (KeysConfig.Path is empty).
	ErrNoKeyFile = errors.New("limits: no key file configured")
	// ErrClosed: the Keys was closed.
	ErrClosed = errors.New("limits: closed")
)
