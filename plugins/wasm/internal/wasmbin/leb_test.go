package wasmbin

import (
	"errors"
	"math"
	"testing"
)

func TestReadU32(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint32
		n    int
		err  error
	}{
		{"zero", []byte{0x00}, 0, 1, nil},
		{"one byte max", []byte{0x7F}, 127, 1, nil},
		{"two bytes", []byte{0x80, 0x01}, 128, 2, nil},
		{"padded zero", []byte{0x80, 0x80, 0x80, 0x80, 0x00}, 0, 5, nil},
		{"max", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, math.MaxUint32, 5, nil},
		{"overflow bit", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x1F}, 0, 5, ErrIntOverflow},
		{"continuation in 5th byte", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, 5, ErrIntOverflow},
		{"truncated", []byte{0x80}, 0, 1, ErrUnexpectedEOF},
		{"empty", nil, 0, 0, ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := readU32(tt.in, 0)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && (got != tt.want || n != tt.n) {
				t.Fatalf("got %d (%d bytes), want %d (%d bytes)", got, n, tt.want, tt.n)
			}
		})
	}
}

func TestReadSigned(t *testing.T) {
	tests := []struct {
		name string
		bits uint
		in   []byte
		want int64
		err  error
	}{
		{"s32 zero", 32, []byte{0x00}, 0, nil},
		{"s32 minus one", 32, []byte{0x7F}, -1, nil},
		{"s32 63", 32, []byte{0x3F}, 63, nil},
		{"s32 64 needs two bytes", 32, []byte{0xC0, 0x00}, 64, nil},
		{"s32 -64", 32, []byte{0x40}, -64, nil},
		{"s32 max", 32, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x07}, math.MaxInt32, nil},
		{"s32 min", 32, []byte{0x80, 0x80, 0x80, 0x80, 0x78}, math.MinInt32, nil},
		{"s32 padded -1", 32, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, -1, nil},
		{"s32 overflow positive", 32, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 0, ErrIntOverflow},
		{"s32 overflow negative", 32, []byte{0x80, 0x80, 0x80, 0x80, 0x70}, 0, ErrIntOverflow},
		{"s32 too long", 32, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, ErrIntTooLong},
		{"s33 type index", 33, []byte{0x80, 0x80, 0x80, 0x80, 0x0F}, 0xF0000000, nil},
		{"s33 overflow", 33, []byte{0x80, 0x80, 0x80, 0x80, 0x20}, 0, ErrIntOverflow},
		{"s64 max", 64, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}, math.MaxInt64, nil},
		{"s64 min", 64, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F}, math.MinInt64, nil},
		{"s64 overflow", 64, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, 0, ErrIntOverflow},
		{"s64 too long", 64, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 0, ErrIntTooLong},
		{"truncated", 64, []byte{0xFF}, 0, ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := readSigned(tt.in, 0, tt.bits)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && (got != tt.want || n != len(tt.in)) {
				t.Fatalf("got %d (%d bytes), want %d (%d bytes)", got, n, tt.want, len(tt.in))
			}
		})
	}
}

func TestAppendLEBRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 127, 128, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		b := AppendS64(nil, v)
		got, n, err := readS64(b, 0)
		if err != nil || got != v || n != len(b) {
			t.Errorf("s64 %d: encoded % x, read %d (%d bytes), %v", v, b, got, n, err)
		}
	}
	for _, v := range []uint32{0, 1, 127, 128, 16383, 16384, math.MaxUint32} {
		b := AppendU32(nil, v)
		got, n, err := readU32(b, 0)
		if err != nil || got != v || n != len(b) || uint32(len(b)) != u32Len(v) {
			t.Errorf("u32 %d: encoded % x, read %d (%d bytes), %v", v, b, got, n, err)
		}
	}
}
