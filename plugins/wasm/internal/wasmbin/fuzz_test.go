package wasmbin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that no input panics Decode, that a module that decodes
// re-encodes byte for byte, and that forcing every section through the
// encoder yields a module that decodes again.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"all.wasm", "rust.wasm", "../../fuel/testdata/guest.wasm"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(mod(funcBody(0, OpBlock, 0x40, OpLoop, 0x7F, OpI32Const, 1, OpEnd, 0x1A, OpEnd, OpEnd)...))
	f.Add(mod(funcBody(0, OpBrTable, 2, 0, 0, 0, OpEnd)...))
	f.Add(mod(funcBody(0, OpPrefixFD, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1A, OpEnd)...))
	f.Add(mod(sec(SecData, 1, 2, 0, OpI32Const, 8, OpEnd, 3, 'm', 'e', 'm')))
	f.Add(mod(sec(SecElement, 1, 6, 0, OpI32Const, 0, OpEnd, FuncRef, 1, 0xD0, FuncRef, OpEnd)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Fatal("decode→encode changed the module")
		}
		for i := range m.Sections {
			if m.Sections[i].ID != SecCustom {
				m.Sections[i].Raw = nil
			}
		}
		out, err = Encode(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("re-encoded module does not decode: %v", err)
		}
	})
}
