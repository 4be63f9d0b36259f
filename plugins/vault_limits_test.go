package plugins

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

func TestValidPlaceholder(t *testing.T) {
	for _, tt := range []struct {
		ph string
		ok bool
	}{
		{"<EMAIL_1>", true}, {"<E_10>", true}, {"<CREDIT_CARD_12>", true}, {"<X2_3>", true},
		{"", false}, {"<EMAIL_>", false}, {"<EMAIL_0>", false}, {"<EMAIL_01>", false}, {"<email_1>", false},
		{"<_1>", false}, {"<1_1>", false}, {"EMAIL_1", false}, {"<EMAIL 1>", false}, {"<EMAIL_1", false},
		{"<" + string(bytes.Repeat([]byte("A"), 61)) + "_1>", false},
	} {
		if got := ValidPlaceholder([]byte(tt.ph)); got != tt.ok {
			t.Errorf("ValidPlaceholder(%q) = %v, want %v", tt.ph, got, tt.ok)
		}
	}
}

func TestVaultAddErrors(t *testing.T) {
	v := new(Vault)
	if err := v.Add([]byte("<EMAIL_1>"), []byte("a@b.c")); err != nil {
		t.Fatal(err)
	}
	if err := v.Add([]byte("<EMAIL_1>"), []byte("a@b.c")); err != nil {
		t.Fatalf("same pair again = %v", err)
	}
	if err := v.Add([]byte("<EMAIL_1>"), []byte("x@y.z")); !errors.Is(err, ErrPlaceholderTaken) {
		t.Fatalf("other original = %v", err)
	}
	if err := v.Add([]byte("{EMAIL_1}"), []byte("x@y.z")); !errors.Is(err, ErrBadPlaceholder) {
		t.Fatalf("bad shape = %v", err)
	}
	if v.Len() != 1 || v.OriginalBytes() != 5 {
		t.Fatalf("Len %d, OriginalBytes %d", v.Len(), v.OriginalBytes())
	}
	v.Add([]byte("<EMAIL_2>"), []byte("second@b.c"))
	v.Truncate(1)
	if v.Len() != 1 || v.OriginalBytes() != 5 {
		t.Fatalf("after Truncate: Len %d, OriginalBytes %d", v.Len(), v.OriginalBytes())
	}
	if _, ok := v.Lookup([]byte("<EMAIL_2>")); ok {
		t.Fatal("truncated pair still found")
	}
	if o, ok := v.Lookup([]byte("<EMAIL_1>")); !ok || string(o) != "a@b.c" {
		t.Fatalf("kept pair lost: %q %v", o, ok)
	}
}

// An upstream whose JSON encoder escapes < and > (Go's default) still gets
// its placeholders restored, whole and split across stream fragments.
func TestVaultRestoresEscapedPlaceholders(t *testing.T) {
	v := newTestVault("<EMAIL_1>", "a@b.c", "<EMAIL_12>", "x@y.z")
	for _, tt := range []struct{ src, want string }{
		{`"to \u003cEMAIL_1\u003e."`, `"to a@b.c."`},
		{`"to \u003CEMAIL_12\u003E."`, `"to x@y.z."`},
		{`"\u003cEMAIL_1>, <EMAIL_12\u003e"`, `"a@b.c, x@y.z"`},
		{`"<\u0045MAIL_1>"`, `"a@b.c"`},
		{`"\\u003cEMAIL_1\u003e"`, `"\\u003cEMAIL_1\u003e"`}, // an escaped backslash, then text
		{`"\u003cEMAIL_3\u003e \u003c"`, `"\u003cEMAIL_3\u003e \u003c"`},
		{`"\n<EMAIL_1>\t"`, `"\na@b.c\t"`},
	} {
		if got := string(v.Restore(nil, []byte(tt.src))); got != tt.want {
			t.Errorf("Restore(%s) = %s, want %s", tt.src, got, tt.want)
		}
		// Every split in two and in three gives the same text.
		for i := 0; i <= len(tt.src); i++ {
			for j := i; j <= len(tt.src); j += 3 {
				var r StreamRestorer
				r.Reset(v)
				got := r.Restore(nil, []byte(tt.src[:i]))
				got = r.Restore(got, []byte(tt.src[i:j]))
				got = r.Restore(got, []byte(tt.src[j:]))
				got = r.Flush(got)
				if string(got) != tt.want {
					t.Fatalf("split %q|%q|%q = %s, want %s", tt.src[:i], tt.src[i:j], tt.src[j:], got, tt.want)
				}
			}
		}
	}
}

func TestVaultVerify(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"content":"mail a@b.c or <EMAIL_1> x@y.z, a@b.c"}]}`)
	for _, tt := range []struct {
		name     string
		pairs    []string
		redacted string
		ok       bool
	}{
		{"exact", []string{"<EMAIL_2>", "a@b.c", "<EMAIL_3>", "x@y.z"},
			`{"model":"m","messages":[{"content":"mail <EMAIL_2> or <EMAIL_1> <EMAIL_3>, <EMAIL_2>"}]}`, true},
		{"literal placeholder kept as text", []string{"<EMAIL_1>", "a@b.c"},
			`{"model":"m","messages":[{"content":"mail <EMAIL_1> or <EMAIL_1> x@y.z, <EMAIL_1>"}]}`, true},
		{"original not in body", []string{"<EMAIL_2>", "evil@x.io"},
			`{"model":"m","messages":[{"content":"mail <EMAIL_2> or <EMAIL_1> x@y.z, a@b.c"}]}`, false},
		{"other text changed", []string{"<EMAIL_2>", "a@b.c"},
			`{"model":"m","messages":[{"content":"MAIL <EMAIL_2> or <EMAIL_1> x@y.z, a@b.c"}]}`, false},
		{"body dropped", []string{"<EMAIL_2>", "a@b.c"}, `{"model":"m"}`, false},
		{"empty", []string{"<EMAIL_2>", "a@b.c"}, ``, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVault("<EMAIL_9>", "earlier")
			from := v.Len()
			for i := 0; i < len(tt.pairs); i += 2 {
				if err := v.Add([]byte(tt.pairs[i]), []byte(tt.pairs[i+1])); err != nil {
					t.Fatal(err)
				}
			}
			err := v.Verify(body, []byte(tt.redacted), from)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrNotInBody)) {
				t.Fatalf("Verify = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func hugeVault(n int) (*Vault, []byte) {
	v := new(Vault)
	var src []byte
	for i := range n {
		ph := []byte("<EMAIL_" + strconv.Itoa(i+1) + ">")
		v.Add(ph, []byte("user"+strconv.Itoa(i)+"@example.com"))
		src = append(src, ph...)
		src = append(src, ' ')
	}
	return v, src
}

// 100,000 pairs restore in linear time: every placeholder found, one lookup each.
func TestVaultManyPairs(t *testing.T) {
	v, src := hugeVault(100_000)
	out := v.Restore(nil, src)
	if !bytes.HasPrefix(out, []byte("user0@example.com user1@example.com ")) || !bytes.HasSuffix(out, []byte("user99999@example.com ")) {
		t.Fatalf("restored %q…%q", out[:40], out[len(out)-40:])
	}
	if bytes.Contains(out, []byte("<EMAIL_")) {
		t.Fatal("a placeholder was not restored")
	}
}

// BenchmarkVaultManyPairs: filling and restoring 100,000 pairs (the quadratic
// vault took 18 s of CPU for this).
func BenchmarkVaultManyPairs(b *testing.B) {
	_, src := hugeVault(100_000)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		v, _ := hugeVault(100_000)
		dst = v.Restore(dst[:0], src)
	}
}

// BenchmarkVaultRestore is the steady path: a few pairs, a typical answer.
func BenchmarkVaultRestore(b *testing.B) {
	v := newTestVault("<EMAIL_1>", "a@b.c", "<EMAIL_2>", "d@e.f")
	src := bytes.Repeat([]byte(`{"content":"mail <EMAIL_1> or <EMAIL_2> please, \u003cEMAIL_1\u003e"} `), 20)
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		dst = v.Restore(dst[:0], src)
	}
}
