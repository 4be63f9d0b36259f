package plugins

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func newTestVault(kv ...string) *Vault {
	v := new(Vault)
	for i := 0; i < len(kv); i += 2 {
		v.Add([]byte(kv[i]), []byte(kv[i+1]))
	}
	return v
}

func TestVaultRestore(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		src  string
		want string
	}{
		{"empty vault", nil, `{"a":"<EMAIL_1>"}`, `{"a":"<EMAIL_1>"}`},
		{"one", []string{"<EMAIL_1>", "a@b.c"}, `{"a":"hi <EMAIL_1>!"}`, `{"a":"hi a@b.c!"}`},
		{"twice and two kinds", []string{"<EMAIL_1>", "a@b.c", "<PHONE_1>", "+49 1"},
			`"<EMAIL_1>,<PHONE_1>,<EMAIL_1>"`, `"a@b.c,+49 1,a@b.c"`},
		{"longest wins", []string{"<E_1>", "one", "<E_10>", "ten"}, `<E_10><E_1>`, `tenone`},
		{"json escaped", []string{"<X_1>", "q\"b\\n\nt\x01"}, `"<X_1>"`, `"q\"b\\n\nt\u0001"`},
		{"unknown placeholder", []string{"<EMAIL_1>", "a@b.c"}, `<EMAIL_2> <EMAIL_`, `<EMAIL_2> <EMAIL_`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVault(tt.kv...)
			if got := v.Restore([]byte(">"), []byte(tt.src)); string(got) != ">"+tt.want {
				t.Fatalf("Restore = %q, want %q", got, ">"+tt.want)
			}
		})
	}
}

func TestVaultAddKeepsFirst(t *testing.T) {
	v := newTestVault("<E_1>", "first", "<E_1>", "second", "", "ignored")
	if v.Len() != 1 {
		t.Fatalf("Len = %d, want 1", v.Len())
	}
	if o, ok := v.Lookup([]byte("<E_1>")); !ok || string(o) != "first" {
		t.Fatalf("Lookup = %q %v", o, ok)
	}
	ph, o := v.Pair(0)
	if string(ph) != "<E_1>" || string(o) != "first" {
		t.Fatalf("Pair(0) = %q %q", ph, o)
	}
	v.Reset()
	if v.Len() != 0 || string(v.Restore(nil, []byte("<E_1>"))) != "<E_1>" {
		t.Fatal("Reset left pairs behind")
	}
}

func TestStreamRestorer(t *testing.T) {
	v := newTestVault("<EMAIL_1>", "a@b.c", "<EMAIL_12>", "x@y.z")
	tests := []struct {
		name  string
		frags []string
		want  []string // output after each fragment, then after Flush
	}{
		{"split", []string{"mail <EMA", "IL_1> now"}, []string{"mail ", "a@b.c now", ""}},
		{"split three ways", []string{"<", "EMAIL_", "12>."}, []string{"", "", "x@y.z.", ""}},
		{"prefix then not", []string{"a <EM", "U>"}, []string{"a ", "<EMU>", ""}},
		{"held at end", []string{"x <EMAIL_1"}, []string{"x ", "<EMAIL_1"}},
		{"ambiguous 1 vs 12", []string{"<EMAIL_1", "2>", "<EMAIL_1", ">"}, []string{"", "x@y.z", "", "a@b.c", ""}},
		{"lone angle", []string{"a < b", " <", "> c"}, []string{"a < b", " ", "<> c", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r StreamRestorer
			r.Reset(v)
			for i, f := range tt.frags {
				if got := string(r.Restore(nil, []byte(f))); got != tt.want[i] {
					t.Fatalf("fragment %d %q: got %q, want %q", i, f, got, tt.want[i])
				}
			}
			if got := string(r.Flush(nil)); got != tt.want[len(tt.frags)] {
				t.Fatalf("Flush: got %q, want %q", got, tt.want[len(tt.frags)])
			}
		})
	}
}

// FuzzStreamRestorer checks that splitting a text anywhere gives the same
// result as restoring it whole.
func FuzzStreamRestorer(f *testing.F) {
	f.Add("hello <EMAIL_1> and <EMAIL_2>, <EMAIL_1>", uint8(3), uint8(9))
	f.Add("<<EMAIL_1>>", uint8(1), uint8(2))
	f.Add("<EMAIL_", uint8(0), uint8(4))
	f.Fuzz(func(t *testing.T, s string, a, b uint8) {
		v := newTestVault("<EMAIL_1>", "a@b.c", "<EMAIL_2>", "q\"x", "<EMAIL_", "zz")
		want := v.Restore(nil, []byte(s))
		i, j := int(a)%(len(s)+1), int(b)%(len(s)+1)
		if i > j {
			i, j = j, i
		}
		var r StreamRestorer
		r.Reset(v)
		got := r.Restore(nil, []byte(s[:i]))
		got = r.Restore(got, []byte(s[i:j]))
		got = r.Restore(got, []byte(s[j:]))
		got = r.Flush(got)
		if !bytes.Equal(got, want) {
			t.Fatalf("split at %d,%d: got %q, want %q", i, j, got, want)
		}
	})
}

func TestParseKindAndPolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Kind
		err  bool
	}{{"route", KindRoute, false}, {"redact", KindRedact, false}, {"route, redact", KindRoute | KindRedact, false}, {"nope", 0, true}, {"", 0, true}} {
		k, err := ParseKind(tt.in)
		if (err != nil) != tt.err || k != tt.want {
			t.Errorf("ParseKind(%q) = %v, %v", tt.in, k, err)
		}
		if err != nil && !errors.Is(err, ErrBadKind) {
			t.Errorf("ParseKind(%q) error %v is not ErrBadKind", tt.in, err)
		}
	}
	if OnErrorDefault.Closed(KindRoute) || !OnErrorDefault.Closed(KindRedact) || OnErrorOpen.Closed(KindRedact) || !OnErrorClosed.Closed(KindRoute) {
		t.Fatal("policy defaults wrong")
	}
	if _, err := ParseOnError("maybe"); !errors.Is(err, ErrBadOnError) {
		t.Fatalf("ParseOnError(maybe) = %v", err)
	}
	cause := errors.New("wasm: fuel exhausted")
	e := Failed(KindRedact, "pii", "fuel exhausted", cause)
	if e.Status != 503 || e.Code != "plugin_failed" || e.Message != `redaction plugin "pii" failed: fuel exhausted` {
		t.Fatalf("Failed = %+v", e)
	}
	if !errors.Is(e, cause) || !errors.Is(e, ErrPluginFailed) {
		t.Fatal("Failed does not unwrap")
	}
}

// A JSON-aware redactor decodes escapes before it matches, so its original
// is the decoded text while the body holds the escaped form: Verify accepts
// that (`jane\u0040x.io`, a key with `\n` line breaks, a surrogate pair), and
// still refuses an original the body does not hold.
func TestVaultVerifyEscapedOriginals(t *testing.T) {
	for _, tc := range []struct {
		body, redacted, orig string
		ok                   bool
	}{
		{`{"a":"mail jane\u0040x.io now"}`, `{"a":"mail <EMAIL_1> now"}`, "jane@x.io", true},
		{`{"a":"k: -----BEGIN\nKEY-----"}`, `{"a":"k: <SECRET_1>"}`, "-----BEGIN\nKEY-----", true},
		{`{"a":"hi \ud83d\ude00\"q\" x"}`, `{"a":"hi <TERM_1> x"}`, "😀\"q\"", true},
		{`{"a":"mail jane\u0040x.io now"}`, `{"a":"mail <EMAIL_1> now"}`, "john@x.io", false},
		{`{"a":"mail jane\u0040"}`, `{"a":"mail <EMAIL_1>"}`, "jane@x.io", false},
	} {
		var v Vault
		ph := tc.redacted[strings.Index(tc.redacted, "<") : strings.Index(tc.redacted, ">")+1]
		if err := v.Add([]byte(ph), []byte(tc.orig)); err != nil {
			t.Fatal(err)
		}
		if err := v.Verify([]byte(tc.body), []byte(tc.redacted), 0); (err == nil) != tc.ok {
			t.Errorf("Verify(%s, %s, %q) = %v, want ok=%v", tc.body, tc.redacted, tc.orig, err, tc.ok)
		}
	}
}
