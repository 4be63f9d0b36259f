package limits

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKeyLifecycle(t *testing.T) {
	clock := newClock(t0)
	path := tempKeyFile(t)
	ks := openKeys(t, path, clock)

	info, secret, err := ks.Create(KeySpec{Tenant: "acme", Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != len(SecretPrefix)+43 {
		t.Fatalf("secret %q: want %s + 43 base64url characters", secret, SecretPrefix)
	}
	if !strings.HasPrefix(info.ID, "key_") || info.Tenant != "acme" || info.Name != "ci" || !info.Created.Equal(t0) {
		t.Fatalf("info %+v", info)
	}
	if info.Hint != secret[len(secret)-4:] {
		t.Fatalf("hint %q, secret ends %q", info.Hint, secret[len(secret)-4:])
	}
	k, err := ks.Lookup([]byte(secret))
	if err != nil || k.ID() != info.ID || k.Tenant() != "acme" {
		t.Fatalf("Lookup = %v, %v", k, err)
	}
	if _, err := ks.Lookup([]byte(secret + "x")); !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Lookup(other) err = %v, want ErrKeyUnknown", err)
	}
	if _, err := ks.Lookup(nil); !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Lookup(empty) err = %v", err)
	}
	if _, err := ks.Lookup(bytes.Repeat([]byte("a"), MaxSecretLen+1)); !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Lookup(long) err = %v", err)
	}

	other, _, err := ks.Create(KeySpec{Tenant: "globex"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.List("acme"); len(got) != 1 || got[0].ID != info.ID {
		t.Fatalf("List(acme) = %+v", got)
	}
	if got := ks.List(""); len(got) != 2 || got[1].ID != other.ID {
		t.Fatalf("List() = %+v", got)
	}

	clock.Advance(time.Hour)
	rot, secret2, err := ks.Rotate(info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rot.ID != info.ID || !rot.Rotated.Equal(t0.Add(time.Hour)) || secret2 == secret || rot.Hint != secret2[len(secret2)-4:] {
		t.Fatalf("Rotate = %+v", rot)
	}
	if _, err := ks.Lookup([]byte(secret)); !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("old secret after rotation: err = %v, want ErrKeyUnknown", err)
	}
	if k, err := ks.Lookup([]byte(secret2)); err != nil || k.ID() != info.ID {
		t.Fatalf("new secret: %v, %v", k, err)
	}

	rev, err := ks.Revoke(info.ID)
	if err != nil || rev.Revoked.IsZero() {
		t.Fatalf("Revoke = %+v, %v", rev, err)
	}
	if _, err := ks.Lookup([]byte(secret2)); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("revoked: err = %v, want ErrKeyRevoked", err)
	}
	if _, _, err := ks.Rotate(info.ID); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("Rotate(revoked) err = %v", err)
	}
	if _, err := ks.Revoke(info.ID); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	if _, err := ks.Revoke("key_nope"); !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Revoke(unknown) err = %v", err)
	}
	if got, _ := ks.Get(info.ID); got.Revoked.IsZero() {
		t.Fatal("Get does not show the revocation")
	}
	if err := ks.Delete(info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Get(info.ID); !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Get(deleted) err = %v", err)
	}
	if err := ks.Delete(info.ID); !errors.Is(err, ErrKeyUnknown) {
		t.Fatalf("Delete(deleted) err = %v", err)
	}
}

func TestKeyExpiry(t *testing.T) {
	clock := newClock(t0)
	ks := openKeys(t, tempKeyFile(t), clock)
	if _, _, err := ks.Create(KeySpec{Tenant: "acme", Expires: t0}); !errors.Is(err, ErrKeySpec) {
		t.Fatalf("expiry now: err = %v, want ErrKeySpec", err)
	}
	_, secret, err := ks.Create(KeySpec{Tenant: "acme", Expires: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute - 1)
	if _, err := ks.Lookup([]byte(secret)); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clock.Advance(1)
	if _, err := ks.Lookup([]byte(secret)); !errors.Is(err, ErrKeyExpired) {
		t.Fatalf("at expiry: err = %v, want ErrKeyExpired", err)
	}
}

func TestKeyAllowedModelsAndEndpoints(t *testing.T) {
	ks := openKeys(t, tempKeyFile(t), nil)
	k, _ := newKey(t, ks, KeySpec{Tenant: "acme", Models: []string{"gpt-5*", "o4-mini"}, Endpoints: []string{"/v1/chat/completions", "/v1/responses"}})
	for _, c := range []struct {
		model string
		want  bool
	}{{"gpt-5", true}, {"gpt-5.5-mini", true}, {"o4-mini", true}, {"o4-mini-high", false}, {"gpt-4.1", false}, {"", false}, {"gpt-", false}} {
		if got := k.AllowsModel([]byte(c.model)); got != c.want {
			t.Errorf("AllowsModel(%q) = %v, want %v", c.model, got, c.want)
		}
	}
	for _, c := range []struct {
		path string
		want bool
	}{{"/v1/chat/completions", true}, {"/v1/responses", true}, {"/v1/embeddings", false}, {"/v1/chat/completions/x", false}} {
		if got := k.AllowsEndpoint([]byte(c.path)); got != c.want {
			t.Errorf("AllowsEndpoint(%q) = %v, want %v", c.path, got, c.want)
		}
	}
	all, _ := newKey(t, ks, KeySpec{Tenant: "acme"})
	if !all.AllowsModel([]byte("anything")) || !all.AllowsEndpoint([]byte("/v1/embeddings")) {
		t.Error("a key without lists must allow every model and endpoint")
	}
	prefix, _ := newKey(t, ks, KeySpec{Tenant: "acme", Endpoints: []string{"/v1/*"}})
	if !prefix.AllowsEndpoint([]byte("/v1/embeddings")) || prefix.AllowsEndpoint([]byte("/v2/x")) {
		t.Error("endpoint prefix pattern")
	}
}

func TestKeySpecValidation(t *testing.T) {
	ks := openKeys(t, tempKeyFile(t), nil)
	for name, spec := range map[string]KeySpec{
		"no tenant":        {},
		"control char":     {Tenant: "a\nb"},
		"star inside":      {Tenant: "acme", Models: []string{"gpt*5"}},
		"empty model":      {Tenant: "acme", Models: []string{""}},
		"relative path":    {Tenant: "acme", Endpoints: []string{"v1/chat"}},
		"negative limit":   {Tenant: "acme", Limits: Limits{RequestsPerMinute: -1}},
		"negative budget":  {Tenant: "acme", Limits: Limits{DailyBudget: -1}},
		"name too long":    {Tenant: "acme", Name: strings.Repeat("n", maxNameLen+1)},
		"invalid utf8 tnt": {Tenant: "\xff"},
	} {
		if _, _, err := ks.Create(spec); !errors.Is(err, ErrKeySpec) {
			t.Errorf("%s: err = %v, want ErrKeySpec", name, err)
		}
	}
	if len(ks.List("")) != 0 {
		t.Fatal("a refused spec was stored")
	}
}

func TestKeysPersistAndReload(t *testing.T) {
	clock := newClock(t0)
	path := tempKeyFile(t)
	ks := openKeys(t, path, clock)
	spec := KeySpec{Tenant: "acme", Name: "ci", Expires: t0.Add(48 * time.Hour), Models: []string{"gpt-5*"},
		Endpoints: []string{"/v1/responses"}, Limits: Limits{RequestsPerMinute: 7, TokensPerMinute: 700, DailyBudget: 1.5, MonthlyBudget: 20}}
	info, secret, err := ks.Create(spec)
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedSecret, _ := ks.Create(KeySpec{Tenant: "acme"})
	if _, err := ks.Revoke(revoked.ID); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Fatalf("key file mode %v, want 0600", m)
	}
	raw, _ := os.ReadFile(path)
	for _, s := range []string{secret, revokedSecret, secret[len(SecretPrefix):], revokedSecret[len(SecretPrefix):]} {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatal("the key file contains a secret in clear")
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("the directory holds %d files, want only the key file (no temporary left over)", len(entries))
	}

	// A second store over the same file (a restart, another process).
	ks2 := openKeys(t, path, clock)
	got, err := ks2.Get(info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "ci" || !got.Expires.Equal(spec.Expires) || got.Limits != spec.Limits ||
		strings.Join(got.Models, ",") != "gpt-5*" || strings.Join(got.Endpoints, ",") != "/v1/responses" || !got.Created.Equal(t0) {
		t.Fatalf("reloaded %+v", got)
	}
	if k, err := ks2.Lookup([]byte(secret)); err != nil || k.ID() != info.ID {
		t.Fatalf("reloaded lookup: %v, %v", k, err)
	}
	if _, err := ks2.Lookup([]byte(revokedSecret)); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("reloaded revoked key: err = %v", err)
	}

	// ks2 revokes; ks sees it after Reload, and a write from ks keeps ks2's edit.
	if _, err := ks2.Revoke(info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Lookup([]byte(secret)); err != nil {
		t.Fatalf("before reload the old view serves: %v", err)
	}
	if err := ks.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Lookup([]byte(secret)); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("after reload: err = %v, want ErrKeyRevoked", err)
	}
	third, _, err := ks2.Create(KeySpec{Tenant: "globex"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Create(KeySpec{Tenant: "initech"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Get(third.ID); err != nil {
		t.Fatalf("a write did not pick up the other writer's key first: %v", err)
	}
	if err := ks2.Reload(); err != nil || len(ks2.List("")) != 4 {
		t.Fatalf("after both wrote: %d keys, %v", len(ks2.List("")), err)
	}
}

func TestKeysBadFileKeepsServing(t *testing.T) {
	path := tempKeyFile(t)
	ks := openKeys(t, path, nil)
	_, secret, _ := ks.Create(KeySpec{Tenant: "acme"})
	if err := os.WriteFile(path, []byte(`{"version":1,"salt":"short","keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ks.Reload(); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("Reload(bad) err = %v, want ErrKeyFile", err)
	}
	if _, err := ks.Lookup([]byte(secret)); err != nil {
		t.Fatalf("after a bad reload the old keys must serve: %v", err)
	}
	if _, err := OpenKeys(KeysConfig{Path: path, ReloadInterval: -1}); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("OpenKeys(bad) err = %v", err)
	}
	if _, err := OpenKeys(KeysConfig{}); !errors.Is(err, ErrNoKeyFile) {
		t.Fatalf("OpenKeys(no path) err = %v", err)
	}
}

func TestKeysWatchReloads(t *testing.T) {
	path := tempKeyFile(t)
	reloads := make(chan error, 16)
	ks, err := OpenKeys(KeysConfig{Path: path, ReloadInterval: time.Millisecond, OnReload: func(err error) {
		select {
		case reloads <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	other := openKeys(t, path, nil)
	_, secret, err := other.Create(KeySpec{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		if _, err := ks.Lookup([]byte(secret)); err == nil {
			break
		}
		select {
		case err := <-reloads:
			if err != nil {
				t.Fatalf("watch reload: %v", err)
			}
		case <-deadline:
			t.Fatal("the watch did not pick up a key written by another store")
		}
	}
	// A broken file is reported and the keys in force stay.
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	for reported := false; !reported; {
		select {
		case err := <-reloads:
			reported = errors.Is(err, ErrKeyFile)
		case <-deadline:
			t.Fatal("a broken key file was not reported")
		}
	}
	if _, err := ks.Lookup([]byte(secret)); err != nil {
		t.Fatalf("after a broken file the old keys must serve: %v", err)
	}
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ks.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, _, err := ks.Create(KeySpec{Tenant: "acme"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Create after Close: err = %v", err)
	}
	if _, err := ks.Lookup([]byte(secret)); err != nil {
		t.Fatalf("Lookup after Close: %v", err)
	}
}
