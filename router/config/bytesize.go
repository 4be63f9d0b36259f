package config

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes, written in YAML as a number or with a unit:
// "512", "64KiB", "4MiB", "1GiB", "10MB" (decimal units are powers of 1000).
type ByteSize int64

// Byte size units. Binary units (KiB, MiB, …) are powers of 1024, decimal
// units (KB, MB, …) powers of 1000, as in IEC 80000-13.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

// ErrByteSize is wrapped by every error of ParseByteSize.
var ErrByteSize = errors.New("config: invalid byte size")

// byteUnits lists the accepted suffixes, matched case-insensitively.
// Binary units come first so String prefers them.
var byteUnits = []struct {
	name string
	mult int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"B", 1},
}

// ParseByteSize parses "512", "64KiB", "4 MiB", "10MB" or "1.5GiB".
// The unit is case-insensitive; a fraction is allowed as long as the result
// is a whole number of bytes ("0.5KiB" is 512, "0.1KiB" is an error).
// Negative sizes and sizes above 2^63-1 bytes are errors.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("%w: empty", ErrByteSize)
	}
	// Split the number from the unit at the first letter.
	i := strings.IndexFunc(t, func(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(t[:i]), t[i:]
	}
	mult := int64(1)
	if unit != "" {
		found := false
		for _, u := range byteUnits {
			if strings.EqualFold(unit, u.name) {
				mult, found = u.mult, true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("%w: %q: unknown unit %q (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", ErrByteSize, s, unit)
		}
	}
	if len(num) > 0 && num[0] == '-' {
		return 0, fmt.Errorf("%w: %q: negative", ErrByteSize, s)
	}
	if !isDecimal(num) {
		return 0, fmt.Errorf("%w: %q: expected a number with an optional unit, such as \"64KiB\"", ErrByteSize, s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: expected a number with an optional unit, such as \"64KiB\"", ErrByteSize, s)
		}
		if n > 0 && n > (1<<63-1)/mult {
			return 0, fmt.Errorf("%w: %q: too large", ErrByteSize, s)
		}
		return ByteSize(n * mult), nil
	}
	// Fractions are computed exactly so "1.1MB" is 1100000, not 1099999.
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%w: %q: expected a number with an optional unit, such as \"64KiB\"", ErrByteSize, s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("%w: %q: not a whole number of bytes", ErrByteSize, s)
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("%w: %q: too large", ErrByteSize, s)
	}
	return ByteSize(r.Num().Int64()), nil
}

// String formats b with the largest binary unit that divides it exactly
// ("4MiB", "1536KiB", "1000"), so ParseByteSize(b.String()) == b.
func (b ByteSize) String() string {
	if b != 0 {
		for _, u := range byteUnits[:4] {
			if int64(b)%u.mult == 0 {
				return strconv.FormatInt(int64(b)/u.mult, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText implements encoding.TextMarshaler with String's format.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseByteSize.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// isDecimal reports whether s is digits with an optional fraction: "12", "1.5".
func isDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	return allDigits(whole) && (!dot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
