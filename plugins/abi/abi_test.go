package abi

import (
	"bytes"
	"testing"
)

func TestPackUnpack(t *testing.T) {
	for _, tt := range []struct {
		ptr, n uint32
	}{{0, 0}, {1024, 4}, {0x7fffffff, 0xffffffff}} {
		p, n, code := Unpack(Pack(tt.ptr, tt.n))
		if p != tt.ptr || n != tt.n || code != 0 {
			t.Errorf("Unpack(Pack(%d, %d)) = %d, %d, %d", tt.ptr, tt.n, p, n, code)
		}
	}
	for _, r := range []int64{-1, -4, -1 << 40} {
		if _, _, code := Unpack(r); code <= 0 {
			t.Errorf("Unpack(%d) code %d", r, code)
		}
	}
}

func TestWriterStopsAtCapacity(t *testing.T) {
	b := make([]byte, 10)
	var w Writer
	w.Reset(b)
	w.U32(7)
	w.String("abc")
	if w.Ok() {
		t.Fatalf("overflow not detected: ok %v off %d", w.Ok(), w.Off)
	}
	w.Reset(b)
	w.Bytes([]byte("ab"))
	w.F32(1.5)
	if !w.Ok() || w.Off != 10 {
		t.Fatalf("ok %v off %d", w.Ok(), w.Off)
	}
	var r Reader
	r.Reset(b)
	if s := r.Bytes(); string(s) != "ab" || r.F32() != 1.5 || !r.Done() {
		t.Fatal("read back")
	}
}

// FuzzReader: reading any bytes as any sequence of values never panics, and
// a failed read leaves zero values and a sticky error.
func FuzzReader(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 'h', 'i', 1, 0, 0, 0}, "bub")
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, "b")
	f.Add([]byte{}, "uuf")
	f.Fuzz(func(t *testing.T, data []byte, ops string) {
		var r Reader
		r.Reset(data)
		for _, op := range []byte(ops) {
			wasOk := r.Ok()
			switch op % 3 {
			case 0:
				v := r.U32()
				if !r.Ok() && v != 0 {
					t.Fatal("failed U32 returned a value")
				}
			case 1:
				r.F32()
			case 2:
				b := r.Bytes()
				if r.Ok() && !bytes.Contains(data, b) {
					t.Fatal("Bytes returned bytes outside the record")
				}
			}
			if !wasOk && r.Ok() {
				t.Fatal("error not sticky")
			}
			if r.Off > len(data) {
				t.Fatal("offset past the end")
			}
		}
	})
}
