package limits

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// SecretPrefix starts every secret Keys issues, so scanners and people can
// tell a Switchyard key from a cloud's.
const SecretPrefix = "sk-sy-"

// MaxSecretLen bounds a presented key; a longer one is unknown without hashing.
const MaxSecretLen = 128

// KeySpec is what the admin asks for when it creates a key.
type KeySpec struct {
	// Tenant is the tenant the key identifies (tenants[].name). Required.
	Tenant string
	// Name is a label for people ("ci", "alice laptop"); never secret.
	Name string
	// Expires, when set, is when the key stops working.
	Expires time.Time
	// Models the key may use; empty means all. "gpt-5*" matches a prefix.
	Models []string
	// Endpoints the key may call, as API paths ("/v1/chat/completions",
	// "/v1/responses", "/v1/embeddings"); empty means all; "/v1/*" a prefix.
	Endpoints []string
	// Limits are the key's own; zero fields inherit the tenant's per_key.
	Limits Limits
}

func (s *KeySpec) validate() error {
	switch {
	case s.Tenant == "" || len(s.Tenant) > maxNameLen || !printable(s.Tenant):
		return fmt.Errorf("%w: tenant must be 1..%d printable characters", ErrKeySpec, maxNameLen)
	case len(s.Name) > maxNameLen || !printable(s.Name):
		return fmt.Errorf("%w: name must be at most %d printable characters", ErrKeySpec, maxNameLen)
	case len(s.Models) > maxPatterns || len(s.Endpoints) > maxPatterns:
		return fmt.Errorf("%w: at most %d models and endpoints", ErrKeySpec, maxPatterns)
	}
	for _, m := range s.Models {
		if !validPattern(m) {
			return fmt.Errorf("%w: model pattern %q: want a name, optionally ending in *", ErrKeySpec, m)
		}
	}
	for _, e := range s.Endpoints {
		if !validPattern(e) || e[0] != '/' {
			return fmt.Errorf("%w: endpoint %q: want an API path such as /v1/chat/completions", ErrKeySpec, e)
		}
	}
	if err := s.Limits.validate("limits"); err != nil {
		return fmt.Errorf("%w: %w", ErrKeySpec, err)
	}
	return nil
}

// validPattern: printable, at most one '*' and only at the end.
func validPattern(p string) bool {
	if p == "" || len(p) > maxNameLen || !printable(p) {
		return false
	}
	i := bytes.IndexByte([]byte(p), '*')
	return i < 0 || i == len(p)-1
}

// KeyInfo is everything known about a key except its secret: what List and
// the admin API show. Plain data; the slices must not be modified.
type KeyInfo struct {
	// ID names the key in the admin API, logs and metrics; it is not secret
	// and does not change when the key is rotated, so its counters carry over.
	ID     string
	Tenant string
	Name   string
	// Hint is the secret's last four characters, for people to tell keys apart.
	Hint                               string
	Created, Rotated, Expires, Revoked time.Time
	Models, Endpoints                  []string
	Limits                             Limits
}

// Key is one managed key as the request path sees it: immutable once
// published, safe for concurrent use, valid as long as it is held.
type Key struct {
	info  KeyInfo
	hash  [32]byte
	scope atomic.Pointer[keyScope] // the key's counters, resolved on first use
}

type keyScope struct {
	store Store
	scope Scope
}

// scopeIn returns k's counters in store, resolving them once per Key.
func (k *Key) scopeIn(store Store) Scope {
	if c := k.scope.Load(); c != nil && c.store == store {
		return c.scope
	}
	s := store.Scope(ScopeKey, k.info.ID)
	k.scope.Store(&keyScope{store: store, scope: s})
	return s
}

// ID returns the key's id.
func (k *Key) ID() string { return k.info.ID }

// Tenant returns the name of the key's tenant.
func (k *Key) Tenant() string { return k.info.Tenant }

// Info returns the key's public data.
func (k *Key) Info() KeyInfo { return k.info }

// AllowsModel reports whether the key may use model. No allocation.
func (k *Key) AllowsModel(model []byte) bool { return allows(k.info.Models, model) }

// AllowsEndpoint reports whether the key may call the API path. No allocation.
func (k *Key) AllowsEndpoint(path []byte) bool { return allows(k.info.Endpoints, path) }

func allows(patterns []string, v []byte) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if n := len(p) - 1; p[n] == '*' {
			if len(v) >= n && string(v[:n]) == p[:n] {
				return true
			}
		} else if string(v) == p {
			return true
		}
	}
	return false
}

// keyIndex is one immutable view of the key file.
type keyIndex struct {
	salt   [saltLen]byte
	byHash map[[32]byte]*Key
	byID   map[string]*Key
	list   []*Key // file order
}

func newIndex(salt [saltLen]byte, n int) *keyIndex {
	return &keyIndex{salt: salt, byHash: make(map[[32]byte]*Key, n), byID: make(map[string]*Key, n), list: make([]*Key, 0, n)}
}

func (x *keyIndex) add(k *Key) {
	x.byHash[k.hash] = k
	x.byID[k.info.ID] = k
	x.list = append(x.list, k)
}

// hash is SHA-256(salt ‖ secret). The buffer is on the stack: no allocation.
func (x *keyIndex) hash(secret []byte) [32]byte {
	var buf [saltLen + MaxSecretLen]byte
	copy(buf[:], x.salt[:])
	n := copy(buf[saltLen:], secret)
	return sha256.Sum256(buf[:saltLen+n])
}

// with returns a copy of x where the key with k's id is replaced by k (or k
// appended), and without the key named drop ("" = none).
func (x *keyIndex) with(k *Key, drop string) *keyIndex {
	y := newIndex(x.salt, len(x.list)+1)
	replaced := false
	for _, old := range x.list {
		switch {
		case old.info.ID == drop:
		case k != nil && old.info.ID == k.info.ID:
			y.add(k)
			replaced = true
		default:
			y.add(old)
		}
	}
	if k != nil && !replaced {
		y.add(k)
	}
	return y
}

// Keys is the managed-key store: a file of salted hashes, an in-memory index
// the request path reads without locks, and the admin's operations. It
// belongs to the router's instance (process lifetime). Safe for concurrent use.
type Keys struct {
	path string
	now  func() time.Time

	idx atomic.Pointer[keyIndex]

	mu   sync.Mutex  // serializes writers and reloads
	seen os.FileInfo // the file as last read or written

	onReload func(error)
	stop     chan struct{}
	done     chan struct{}
	closed   atomic.Bool
}

// OpenKeys reads cfg.Path (creating it, mode 0600 with a fresh salt, when
// missing) and starts watching it for changes unless cfg.ReloadInterval < 0.
func OpenKeys(cfg KeysConfig) (*Keys, error) {
	if cfg.Path == "" {
		return nil, ErrNoKeyFile
	}
	ks := &Keys{path: cfg.Path, now: cfg.Now, onReload: cfg.OnReload, stop: make(chan struct{}), done: make(chan struct{})}
	if ks.now == nil {
		ks.now = time.Now
	}
	ks.mu.Lock()
	err := ks.reloadLocked()
	if errors.Is(err, fs.ErrNotExist) {
		var salt [saltLen]byte
		rand.Read(salt[:])
		err = ks.writeLocked(newIndex(salt, 0))
	}
	ks.mu.Unlock()
	if err != nil {
		return nil, err
	}
	every := cfg.ReloadInterval
	if every == 0 {
		every = DefaultReloadInterval
	}
	if every < 0 {
		close(ks.done)
		return ks, nil
	}
	go ks.watch(every)
	return ks, nil
}

// Close stops the watch. Lookups keep working on the last index; writes
// return ErrClosed. Safe to call twice.
func (ks *Keys) Close() error {
	if ks.closed.CompareAndSwap(false, true) {
		close(ks.stop)
	}
	<-ks.done
	return nil
}

// Why poll rather than inotify? Writers (this process included) replace the
// file by rename, which ends an inotify watch on it; a directory watch sees
// every unrelated file. A stat every few seconds is cheap and never misses.
func (ks *Keys) watch(every time.Duration) {
	defer close(ks.done)
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false // report a failure once, not on every tick
	for {
		select {
		case <-ks.stop:
			return
		case <-t.C:
			ks.mu.Lock()
			changed, err := ks.changedLocked()
			if changed {
				err = ks.reloadLocked()
			}
			ks.mu.Unlock()
			report := err == nil && changed || err != nil && !failing
			failing = err != nil
			if report && ks.onReload != nil {
				ks.onReload(err)
			}
		}
	}
}

func (ks *Keys) changedLocked() (bool, error) {
	fi, err := os.Stat(ks.path)
	if err != nil {
		return false, err
	}
	s := ks.seen
	return s == nil || !os.SameFile(s, fi) || !fi.ModTime().Equal(s.ModTime()) || fi.Size() != s.Size(), nil
}

// Reload reads the file now. On error the previous keys stay in force.
func (ks *Keys) Reload() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.reloadLocked()
}

func (ks *Keys) reloadLocked() error {
	f, err := os.Open(ks.path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > maxKeyFileSize {
		return fmt.Errorf("%w: %s is larger than %d bytes", ErrKeyFile, ks.path, maxKeyFileSize)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return fmt.Errorf("limits: reading %s: %w", ks.path, err)
	}
	idx, err := parseKeyFile(b)
	if err != nil {
		return fmt.Errorf("%s: %w", ks.path, err)
	}
	ks.idx.Store(idx)
	ks.seen = fi
	return nil
}

// writeLocked replaces the file atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory), then publishes idx.
func (ks *Keys) writeLocked(idx *keyIndex) error {
	dir := filepath.Dir(ks.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(ks.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("limits: writing the key file: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("limits: writing the key file: %w", err)
	}
	if _, err := tmp.Write(encodeKeyFile(idx)); err != nil {
		return fmt.Errorf("limits: writing the key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("limits: writing the key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("limits: writing the key file: %w", err)
	}
	if err := os.Rename(name, ks.path); err != nil {
		return fmt.Errorf("limits: writing the key file: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	if fi, err := os.Stat(ks.path); err == nil {
		ks.seen = fi
	}
	ks.idx.Store(idx)
	return nil
}

// Lookup finds the key whose secret was presented (the bearer token without
// "Bearer "). Errors: ErrKeyUnknown, ErrKeyRevoked, ErrKeyExpired; the core
// answers all three with 401 invalid_api_key. O(1), no lock, no allocation.
func (ks *Keys) Lookup(secret []byte) (*Key, error) {
	if len(secret) == 0 || len(secret) > MaxSecretLen {
		return nil, ErrKeyUnknown
	}
	idx := ks.idx.Load()
	h := idx.hash(secret)
	k := idx.byHash[h]
	// Why compare again? The map compares hashes in variable time, which
	// reveals nothing about the secret (a preimage is needed); the constant
	// time compare keeps that argument from resting on map internals.
	if k == nil || subtle.ConstantTimeCompare(k.hash[:], h[:]) != 1 {
		return nil, ErrKeyUnknown
	}
	if !k.info.Revoked.IsZero() {
		return nil, ErrKeyRevoked
	}
	if !k.info.Expires.IsZero() && !ks.now().Before(k.info.Expires) {
		return nil, ErrKeyExpired
	}
	return k, nil
}

// Get returns the key with this id (revoked and expired ones included).
func (ks *Keys) Get(id string) (KeyInfo, error) {
	if k := ks.idx.Load().byID[id]; k != nil {
		return k.info, nil
	}
	return KeyInfo{}, ErrKeyUnknown
}

// List returns the keys of tenant ("" = every tenant), in creation order,
// revoked and expired ones included.
func (ks *Keys) List(tenant string) []KeyInfo {
	idx := ks.idx.Load()
	out := make([]KeyInfo, 0, len(idx.list))
	for _, k := range idx.list {
		if tenant == "" || k.info.Tenant == tenant {
			out = append(out, k.info)
		}
	}
	return out
}

// Create issues a new key. The secret is returned once, here; only its salted
// hash is kept.
func (ks *Keys) Create(spec KeySpec) (KeyInfo, string, error) {
	if err := spec.validate(); err != nil {
		return KeyInfo{}, "", err
	}
	now := ks.now().UTC()
	if !spec.Expires.IsZero() && !spec.Expires.After(now) {
		return KeyInfo{}, "", fmt.Errorf("%w: expires is in the past", ErrKeySpec)
	}
	var idb [8]byte
	rand.Read(idb[:])
	info := KeyInfo{
		ID: "key_" + hex.EncodeToString(idb[:]), Tenant: spec.Tenant, Name: spec.Name,
		Created: now, Expires: utcOrZero(spec.Expires),
		Models: slices.Clone(spec.Models), Endpoints: slices.Clone(spec.Endpoints), Limits: spec.Limits,
	}
	return ks.issue(info, "")
}

// Rotate replaces a key's secret; the old one stops working at once. The id,
// and with it the key's counters and budgets, stay. The new secret is
// returned once, here.
func (ks *Keys) Rotate(id string) (KeyInfo, string, error) {
	return ks.issue(KeyInfo{}, id)
}

// issue gives a key a fresh secret and stores it: info as a new key when
// replace is "", else the current key named replace, marked rotated.
func (ks *Keys) issue(info KeyInfo, replace string) (KeyInfo, string, error) {
	var raw [32]byte
	rand.Read(raw[:])
	secret := SecretPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	err := ks.update(func(idx *keyIndex) (*keyIndex, error) {
		if replace != "" {
			cur := idx.byID[replace]
			if cur == nil {
				return nil, ErrKeyUnknown
			}
			if !cur.info.Revoked.IsZero() {
				return nil, ErrKeyRevoked
			}
			info = cur.info
			info.Rotated = ks.now().UTC()
		}
		info.Hint = secret[len(secret)-4:]
		k := &Key{info: info, hash: idx.hash([]byte(secret))}
		return idx.with(k, ""), nil
	})
	if err != nil {
		return KeyInfo{}, "", err
	}
	return info, secret, nil
}

// Revoke disables a key at once. It stays listed (with Revoked set) until
// Delete. Revoking a revoked key is not an error.
func (ks *Keys) Revoke(id string) (KeyInfo, error) {
	var out KeyInfo
	err := ks.update(func(idx *keyIndex) (*keyIndex, error) {
		cur := idx.byID[id]
		if cur == nil {
			return nil, ErrKeyUnknown
		}
		out = cur.info
		if !out.Revoked.IsZero() {
			return nil, nil
		}
		out.Revoked = ks.now().UTC()
		return idx.with(&Key{info: out, hash: cur.hash}, ""), nil
	})
	return out, err
}

// Delete removes a key from the file.
func (ks *Keys) Delete(id string) error {
	return ks.update(func(idx *keyIndex) (*keyIndex, error) {
		if idx.byID[id] == nil {
			return nil, ErrKeyUnknown
		}
		return idx.with(nil, id), nil
	})
}

// update applies change to the current index — first re-read if another
// writer changed the file, so its edits are not lost — and writes the result
// (nil: nothing to write).
func (ks *Keys) update(change func(*keyIndex) (*keyIndex, error)) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.closed.Load() {
		return ErrClosed
	}
	if changed, err := ks.changedLocked(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	} else if changed && err == nil {
		if err := ks.reloadLocked(); err != nil {
			return err
		}
	}
	next, err := change(ks.idx.Load())
	if err != nil || next == nil {
		return err
	}
	return ks.writeLocked(next)
}
