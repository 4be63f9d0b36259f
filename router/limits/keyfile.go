package limits

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// The key file, version 1 (docs/limits.md shows one):
//
//	{"version":1,"salt":"<base64 of 32 bytes>","keys":[{"id":"key_…","tenant":"acme",
//	 "hash":"<hex of SHA-256(salt ‖ secret)>","hint":"Ab3x","created":"2026-…Z",…}]}
//
// Why JSON? The file is small, read at start and on change, never on the
// request path, and operators read it with the tools they have. Why strict
// (unknown fields refused)? It holds credentials: a typo such as "revokd"
// must fail loudly, not leave a key active.

const (
	keyFileVersion = 1
	saltLen        = 32
	maxKeyFileSize = 64 << 20
	maxNameLen     = 128
	maxIDLen       = 64
	maxPatterns    = 256
)

type fileJSON struct {
	Version int       `json:"version"`
	Salt    string    `json:"salt"`
	Keys    []keyJSON `json:"keys"`
}

type keyJSON struct {
	ID        string      `json:"id"`
	Tenant    string      `json:"tenant"`
	Name      string      `json:"name,omitempty"`
	Hash      string      `json:"hash"`
	Hint      string      `json:"hint,omitempty"`
	Created   time.Time   `json:"created"`
	Rotated   time.Time   `json:"rotated,omitzero"`
	Expires   time.Time   `json:"expires,omitzero"`
	Revoked   time.Time   `json:"revoked,omitzero"`
	Models    []string    `json:"models,omitempty"`
	Endpoints []string    `json:"endpoints,omitempty"`
	Limits    *limitsJSON `json:"limits,omitempty"`
}

type limitsJSON struct {
	RequestsPerMinute int64   `json:"requests_per_minute,omitempty"`
	TokensPerMinute   int64   `json:"tokens_per_minute,omitempty"`
	DailyBudget       float64 `json:"daily_budget,omitempty"`
	MonthlyBudget     float64 `json:"monthly_budget,omitempty"`
}

// parseKeyFile decodes and validates a key file into an index.
func parseKeyFile(b []byte) (*keyIndex, error) {
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrKeyFile, maxKeyFileSize)
	}
	var f fileJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the top-level object", ErrKeyFile)
	}
	if f.Version != keyFileVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrKeyFile, f.Version, keyFileVersion)
	}
	salt, err := base64.StdEncoding.Strict().DecodeString(f.Salt)
	if err != nil || len(salt) != saltLen {
		return nil, fmt.Errorf("%w: salt must be %d bytes of base64", ErrKeyFile, saltLen)
	}
	idx := newIndex([saltLen]byte(salt), len(f.Keys))
	for i := range f.Keys {
		kj := &f.Keys[i]
		k, err := kj.key()
		if err != nil {
			return nil, fmt.Errorf("%w: keys[%d]: %v", ErrKeyFile, i, err)
		}
		if idx.byID[k.info.ID] != nil {
			return nil, fmt.Errorf("%w: keys[%d]: id %q is listed twice", ErrKeyFile, i, k.info.ID)
		}
		if idx.byHash[k.hash] != nil {
			return nil, fmt.Errorf("%w: keys[%d]: hash is listed twice", ErrKeyFile, i)
		}
		idx.add(k)
	}
	return idx, nil
}

func (kj *keyJSON) key() (*Key, error) {
	if !validID(kj.ID) {
		return nil, fmt.Errorf("id %q: want 1..%d of [A-Za-z0-9_-]", kj.ID, maxIDLen)
	}
	h, err := hex.DecodeString(kj.Hash)
	if err != nil || len(h) != 32 {
		return nil, fmt.Errorf("hash: want 64 hex digits")
	}
	if len(kj.Hint) > 8 || !printable(kj.Hint) {
		return nil, fmt.Errorf("hint: want at most 8 printable characters")
	}
	info := KeyInfo{
		ID: kj.ID, Tenant: kj.Tenant, Name: kj.Name, Hint: kj.Hint,
		Created: kj.Created.UTC(), Rotated: utcOrZero(kj.Rotated),
		Expires: utcOrZero(kj.Expires), Revoked: utcOrZero(kj.Revoked),
		Models: kj.Models, Endpoints: kj.Endpoints,
	}
	for _, t := range [...]time.Time{info.Created, info.Rotated, info.Expires, info.Revoked} {
		if y := t.Year(); y < 1 || y > 9999 {
			return nil, fmt.Errorf("time %s: year out of range", t)
		}
	}
	if kj.Limits != nil {
		info.Limits = Limits(*kj.Limits)
	}
	spec := KeySpec{Tenant: info.Tenant, Name: info.Name, Models: info.Models, Endpoints: info.Endpoints, Limits: info.Limits}
	if err := spec.validate(); err != nil {
		return nil, err
	}
	return &Key{info: info, hash: [32]byte(h)}, nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// encodeKeyFile renders idx as a key file, keys in their order.
func encodeKeyFile(idx *keyIndex) []byte {
	f := fileJSON{Version: keyFileVersion, Salt: base64.StdEncoding.EncodeToString(idx.salt[:]), Keys: make([]keyJSON, 0, len(idx.list))}
	for _, k := range idx.list {
		i := &k.info
		kj := keyJSON{ID: i.ID, Tenant: i.Tenant, Name: i.Name, Hash: hex.EncodeToString(k.hash[:]), Hint: i.Hint,
			Created: i.Created, Rotated: i.Rotated, Expires: i.Expires, Revoked: i.Revoked,
			Models: i.Models, Endpoints: i.Endpoints}
		if !i.Limits.IsZero() {
			l := limitsJSON(i.Limits)
			kj.Limits = &l
		}
		f.Keys = append(f.Keys, kj)
	}
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		// Only strings, numbers validated finite and times with a valid year
		// go in; a failure is a bug here, not bad input.
		panic("limits: encoding the key file: " + err.Error())
	}
	return append(b, '\n')
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// printable reports whether s has no control characters and valid UTF-8.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}
