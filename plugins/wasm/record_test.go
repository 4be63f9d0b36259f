package wasm

import (
	"bytes"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
	"github.com/switchyard-dev/switchyard/plugins/abi"
)

// FuzzCheckRedactOutput: any bytes a guest returns are either refused or
// decode into pairs that lie inside the record, without panicking.
func FuzzCheckRedactOutput(f *testing.F) {
	f.Add([]byte("\x02\x00\x00\x00{}\x01\x00\x00\x00\x05\x00\x00\x00<X_1>\x01\x00\x00\x00x"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Add([]byte("\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, out []byte) {
		body, pairs, origBytes, err := checkRedactOutput(out, 1<<30)
		if err != nil {
			return
		}
		if len(body) == 0 {
			t.Fatal("empty body accepted")
		}
		if !bytes.Contains(out, body) {
			t.Fatal("body outside the record")
		}
		var r abi.Reader
		r.Reset(out)
		r.Bytes()
		r.U32()
		v := new(plugins.Vault)
		sum := 0
		for range pairs {
			ph, orig := r.Bytes(), r.Bytes()
			if len(ph) == 0 {
				t.Fatal("empty placeholder accepted")
			}
			sum += len(orig)
			v.Add(ph, orig)
		}
		if sum != origBytes {
			t.Fatalf("original bytes %d, counted %d", origBytes, sum)
		}
		if !r.Done() {
			t.Fatal("accepted record has trailing bytes")
		}
	})
}

func TestRouteRecordSize(t *testing.T) {
	for _, n := range []int{0, 1, 3, 50} {
		ups := make([]plugins.Upstream, n)
		for i := range ups {
			ups[i] = testUpstreams()[i%3]
		}
		req := testRequest(5)
		size := routeRecordSize(req, ups)
		b := make([]byte, size+8)
		var w abi.Writer
		w.Reset(b)
		writeRoute(&w, req, ups)
		if !w.Ok() || w.Off != size {
			t.Fatalf("%d upstreams: wrote %d bytes, size says %d", n, w.Off, size)
		}
	}
}
