package config

import (
	"errors"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
	}{
		{"0", 0},
		{"512", 512},
		{"512B", 512},
		{"64KiB", 64 << 10},
		{"64kib", 64 << 10},
		{"4MiB", 4 << 20},
		{"4 MiB", 4 << 20},
		{" 1GiB ", 1 << 30},
		{"2TiB", 2 << 40},
		{"10MB", 10_000_000},
		{"10KB", 10_000},
		{"3GB", 3_000_000_000},
		{"1TB", 1_000_000_000_000},
		{"1.5GiB", 3 << 29},
		{"0.5KiB", 512},
		{"1.1MB", 1_100_000},
		{"8388607TiB", 8388607 << 40},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseByteSizeErrors(t *testing.T) {
	for _, in := range []string{
		"", " ", "KiB", "-1", "-1KiB", "+1", "1e3", "0x10", "1_000", "1..5MiB", "1.", ".",
		"4 MiBs", "4XB", "4 K iB", "0.1KiB", "1.5B", "8388608TiB", "9223372036854775808", "99999999999999999999GiB",
	} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d, want an error", in, got)
		} else if !errors.Is(err, ErrByteSize) {
			t.Errorf("ParseByteSize(%q) error %v does not wrap ErrByteSize", in, err)
		}
	}
}

func TestByteSizeUnmarshalTextError(t *testing.T) {
	b := ByteSize(7)
	if err := b.UnmarshalText([]byte("4 parsecs")); !errors.Is(err, ErrByteSize) || b != 7 {
		t.Errorf("UnmarshalText(bad) = %v, left %d; want ErrByteSize and no change", err, b)
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{1000, "1000"},
		{1024, "1KiB"},
		{1536 << 10, "1536KiB"},
		{4 * MiB, "4MiB"},
		{3 * GiB, "3GiB"},
		{2 * TiB, "2TiB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if txt, err := tt.in.MarshalText(); err != nil || string(txt) != tt.want {
			t.Errorf("MarshalText(%d) = %q, %v", int64(tt.in), txt, err)
		}
		var b ByteSize
		if err := b.UnmarshalText([]byte(tt.want)); err != nil || b != tt.in {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d", tt.want, b, err, tt.in)
		}
	}
}

// FuzzParseByteSize checks that the parser never panics, never returns a
// negative size, and that every size it accepts round-trips through String.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"512", "64KiB", "4MiB", "1GiB", "10MB", "1.5GiB", "0.5kib", "-1", "1e9", "", "9223372036854775807", "8388607TiB", "1.0000000000000000001GB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("ParseByteSize(%q) = %d, negative", s, b)
		}
		back, err := ParseByteSize(b.String())
		if err != nil || back != b {
			t.Fatalf("round trip of %q: %d → %q → %d, %v", s, b, b.String(), back, err)
		}
	})
}
