package limits

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

func validFile(t testing.TB) []byte {
	t.Helper()
	path := tempKeyFile(t)
	ks := openKeys(t, path, newClock(t0))
	ks.Create(KeySpec{Tenant: "acme", Name: "ci", Models: []string{"gpt-5*"}, Limits: Limits{RequestsPerMinute: 5, DailyBudget: 2.5}})
	info, _, _ := ks.Create(KeySpec{Tenant: "globex", Expires: t0.Add(1e12), Endpoints: []string{"/v1/responses"}})
	ks.Revoke(info.ID)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseKeyFileRejects(t *testing.T) {
	good := string(validFile(t))
	salt := `"salt":"` + good[bytes.Index([]byte(good), []byte(`"salt": "`))+9:][:44] + `"`
	for name, body := range map[string]string{
		"not json":     `{`,
		"trailing":     `{"version":1,` + salt + `,"keys":[]} {}`,
		"version":      `{"version":2,` + salt + `,"keys":[]}`,
		"unknown":      `{"version":1,` + salt + `,"keys":[],"extra":1}`,
		"unknown key":  `{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"t","hash":"` + hex64 + `","revokd":"2026-01-01T00:00:00Z"}]}`,
		"no salt":      `{"version":1,"keys":[]}`,
		"bad id":       `{"version":1,` + salt + `,"keys":[{"id":"a b","tenant":"t","hash":"` + hex64 + `"}]}`,
		"no tenant":    `{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"","hash":"` + hex64 + `"}]}`,
		"short hash":   `{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"t","hash":"abcd"}]}`,
		"dup id":       `{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"t","hash":"` + hex64 + `"},{"id":"a","tenant":"t","hash":"` + hex64b + `"}]}`,
		"dup hash":     `{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"t","hash":"` + hex64 + `"},{"id":"b","tenant":"t","hash":"` + hex64 + `"}]}`,
		"bad model":    `{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"t","hash":"` + hex64 + `","models":["a*b"]}]}`,
		"neg limit":    `{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"t","hash":"` + hex64 + `","limits":{"requests_per_minute":-1}}]}`,
		"year 0 local": `{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"t","hash":"` + hex64 + `","created":"0000-01-01T00:00:00+01:00"}]}`,
	} {
		if _, err := parseKeyFile([]byte(body)); !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: err = %v, want ErrKeyFile", name, err)
		}
	}
	if _, err := parseKeyFile([]byte(`{"version":1,` + salt + `,"keys":[{"id":"a","tenant":"t","hash":"` + hex64 + `"}]}`)); err != nil {
		t.Errorf("minimal valid file: %v", err)
	}
}

const (
	hex64  = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	hex64b = "ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
)

// FuzzParseKeyFile: the parser never panics, and what it accepts encodes to a
// file that parses back to the same encoding (nothing is lost or invented).
func FuzzParseKeyFile(f *testing.F) {
	f.Add(validFile(f))
	f.Add([]byte(`{"version":1,"salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","keys":[]}`))
	f.Add([]byte(`{"version":1,"salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","keys":[{"id":"a","tenant":"t","hash":"` + hex64 + `","created":"2026-01-01T00:00:00+01:00","limits":{"daily_budget":1e-12}}]}`))
	f.Add([]byte(`{"version":1,"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := parseKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("error %v does not wrap ErrKeyFile", err)
			}
			return
		}
		enc := encodeKeyFile(idx)
		idx2, err := parseKeyFile(enc)
		if err != nil {
			t.Fatalf("re-parsing the encoding: %v\n%s", err, enc)
		}
		if enc2 := encodeKeyFile(idx2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
		if len(idx2.list) != len(idx.list) || idx2.salt != idx.salt {
			t.Fatal("keys or salt lost in the round trip")
		}
	})
}
