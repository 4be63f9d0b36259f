package wasmbin

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// testModules returns the committed toolchain-built modules plus the Go
// guest, built into a temporary directory.
func testModules(t testing.TB) map[string][]byte {
	t.Helper()
	mods := map[string][]byte{}
	for _, name := range []string{"all.wasm", "c.wasm", "rust.wasm", "../../fuel/testdata/guest.wasm"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		mods[filepath.Base(name)] = b
	}
	mods["go.wasm"] = buildGoGuest(t)
	return mods
}

// buildGoGuest builds testdata/goguest for wasip1 as a c-shared module.
func buildGoGuest(t testing.TB) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "go.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/goguest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building Go guest: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTripIdentical(t *testing.T) {
	for name, b := range testModules(t) {
		t.Run(name, func(t *testing.T) {
			m, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Encode(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("decode→encode changed the module (%d → %d bytes)", len(b), len(out))
			}
		})
	}
}

// TestReencodeAllSections forces every non-custom section through the
// encoder and checks that decoding the result gives the same module.
func TestReencodeAllSections(t *testing.T) {
	for name, b := range testModules(t) {
		t.Run(name, func(t *testing.T) {
			m, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			for i := range m.Sections {
				if m.Sections[i].ID != SecCustom {
					m.Sections[i].Raw = nil
				}
			}
			out, err := Encode(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := Decode(out)
			if err != nil {
				t.Fatalf("re-encoded module does not decode: %v", err)
			}
			m.Sections, m2.Sections = nil, nil
			if !reflect.DeepEqual(m, m2) {
				t.Fatal("re-encoded module decodes differently")
			}
		})
	}
}

func TestDecodeContents(t *testing.T) {
	b, err := os.ReadFile("testdata/all.wasm")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var flags []uint32
	for _, e := range m.Elements {
		flags = append(flags, e.Flags)
	}
	if want := []uint32{0, 1, 2, 3, 4, 5, 6, 7}; !reflect.DeepEqual(flags, want) {
		t.Errorf("element encodings = %v, want %v", flags, want)
	}
	var dflags []uint32
	for _, d := range m.Data {
		dflags = append(dflags, d.Flags)
	}
	if want := []uint32{0, 1, 0}; !reflect.DeepEqual(dflags, want) { // form 2: TestDataForms
		t.Errorf("data forms = %v, want %v", dflags, want)
	}
	if !m.HasStart || !m.HasCount || m.DataCount != 3 {
		t.Errorf("start %v, data count %v %d", m.HasStart, m.HasCount, m.DataCount)
	}
	if got := m.NumImported(KindGlobal); got != 2 {
		t.Errorf("imported globals = %d, want 2", got)
	}
	if len(m.Globals) != 8 || len(m.Tables) != 3 || len(m.Memories) != 1 || len(m.Types) != 7 {
		t.Errorf("globals %d tables %d memories %d types %d", len(m.Globals), len(m.Tables), len(m.Memories), len(m.Types))
	}
	// Every instruction class of all.wat shows up.
	seen := map[[2]uint32]bool{}
	for _, c := range m.Code {
		if err := WalkCode(c.Body, func(in Instr, _ int) error {
			seen[[2]uint32{uint32(in.Op), in.Sub}] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range [][2]uint32{
		{0x02, 0}, {0x03, 0}, {0x04, 0}, {0x05, 0}, {0x0E, 0}, {0x11, 0}, {0x1C, 0}, {0x25, 0}, {0x26, 0},
		{0xC0, 0}, {0xC4, 0}, {0xD0, 0}, {0xD1, 0}, {0xD2, 0},
		{0xFC, 0}, {0xFC, 7}, {0xFC, 8}, {0xFC, 9}, {0xFC, 10}, {0xFC, 11}, {0xFC, 12}, {0xFC, 13},
		{0xFC, 14}, {0xFC, 15}, {0xFC, 16}, {0xFC, 17},
		{0xFD, 0}, {0xFD, 11}, {0xFD, 12}, {0xFD, 13}, {0xFD, 27}, {0xFD, 28}, {0xFD, 84}, {0xFD, 91}, {0xFD, 93},
	} {
		if !seen[want] {
			t.Errorf("opcode 0x%02x %d not found in all.wasm", want[0], want[1])
		}
	}
}

// mod builds a module from the header and raw section bytes.
func mod(sections ...[]byte) []byte {
	b := append([]byte(nil), header[:]...)
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

// sec builds one section with a minimal size prefix.
func sec(id byte, payload ...byte) []byte {
	return append(appendU32([]byte{id}, uint32(len(payload))), payload...)
}

// funcBody builds type, function and code sections for one func () -> ()
// with the given body (locals vector included).
func funcBody(body ...byte) [][]byte {
	return [][]byte{
		sec(SecType, 1, 0x60, 0, 0),
		sec(SecFunction, 1, 0),
		sec(SecCode, append(appendU32([]byte{1}, uint32(len(body))), body...)...),
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"empty", nil, ErrBadMagic},
		{"bad version", []byte{0, 'a', 's', 'm', 2, 0, 0, 0}, ErrBadMagic},
		{"section size past end", mod([]byte{SecType, 5, 0}), ErrUnexpectedEOF},
		{"section size overlong", mod([]byte{SecType, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), ErrIntOverflow},
		{"trailing bytes in section", mod(sec(SecType, 0, 0)), ErrSectionSize},
		{"sections out of order", mod(sec(SecFunction, 0), sec(SecType, 0)), ErrSectionOrder},
		{"duplicate section", mod(sec(SecType, 0), sec(SecType, 0)), ErrSectionOrder},
		{"unknown section", mod(sec(13, 0)), ErrUnknownSection},
		{"huge vector count", mod(sec(SecType, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F)), ErrUnexpectedEOF},
		{"bad value type", mod(sec(SecType, 1, 0x60, 1, 0x55, 0)), ErrMalformed},
		{"function without body", mod(sec(SecType, 1, 0x60, 0, 0), sec(SecFunction, 1, 0)), ErrFuncCodeCount},
		{"body without function", mod(sec(SecCode, 1, 2, 0, OpEnd)), ErrFuncCodeCount},
		{"unknown opcode", mod(funcBody(0, 0x06, OpEnd)...), ErrUnknownOpcode},
		{"unknown 0xfc", mod(funcBody(0, 0xFC, 18, OpEnd)...), ErrUnknownOpcode},
		{"missing end", mod(funcBody(0, OpNop)...), ErrUnbalancedBlock},
		{"unclosed block", mod(funcBody(0, OpBlock, 0x40, OpEnd)...), ErrUnbalancedBlock},
		{"code after end", mod(funcBody(0, OpEnd, OpNop)...), ErrUnbalancedBlock},
		{"i32.const overflow", mod(funcBody(0, OpI32Const, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x1A, OpEnd)...), ErrIntOverflow},
		{"negative type index block", mod(funcBody(0, OpBlock, 0x41, OpEnd, OpEnd)...), ErrMalformed},
		{"too many locals", mod(funcBody(2, 0xFF, 0xFF, 0x03, I32, 0xFF, 0xFF, 0x03, I32, OpEnd)...), ErrTooManyLocals},
		{"truncated br_table", mod(funcBody(0, OpBrTable, 3, 0, 0)...), ErrUnexpectedEOF},
		{"bad element flags", mod(sec(SecElement, 1, 8, 0)), ErrMalformed},
		{"bad data flags", mod(sec(SecData, 1, 3, 0)), ErrMalformed},
		{"data count mismatch", mod(sec(SecDataCount, 2), sec(SecData, 0)), ErrDataCount},
		{"name not utf-8", mod(sec(SecExport, 1, 1, 0xFF, KindFunc, 0)), ErrMalformed},
		{"block in constant", mod(sec(SecGlobal, 1, I32, 0, OpBlock, 0x40, OpEnd, OpEnd)), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.in); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestMarkDirtyInsertsInOrder(t *testing.T) {
	in := mod(sec(SecType, 1, 0x60, 0, 0), sec(SecFunction, 1, 0), sec(SecCustom, 1, 'x'),
		sec(SecCode, 1, 2, 0, OpEnd))
	m, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	m.Globals = append(m.Globals, Global{Type: GlobalType{Type: I64, Mutable: true}, Init: []byte{OpI64Const, 5, OpEnd}})
	m.Exports = append(m.Exports, Export{Name: "g", Kind: KindGlobal, Index: 0})
	m.MarkDirty(SecExport)
	m.MarkDirty(SecGlobal)
	out, err := Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	var ids []byte
	for _, s := range m2.Sections {
		ids = append(ids, s.ID)
	}
	if want := []byte{SecType, SecFunction, SecCustom, SecGlobal, SecExport, SecCode}; !bytes.Equal(ids, want) {
		t.Fatalf("section order = %v, want %v", ids, want)
	}
	if len(m2.Globals) != 1 || m2.Exports[0].Name != "g" {
		t.Fatalf("globals %v exports %v", m2.Globals, m2.Exports)
	}
}

// TestDataForms covers the data segment form with an explicit memory index,
// which wat2wasm never emits for memory 0.
func TestDataForms(t *testing.T) {
	in := mod(sec(SecMemory, 1, 0, 1), sec(SecData, 3,
		0, OpI32Const, 1, OpEnd, 2, 'h', 'i', // form 0
		1, 1, 'p', // form 1
		2, 0, OpI32Const, 8, OpEnd, 3, 'm', 'e', 'm')) // form 2, memory 0
	m, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Data{
		{Flags: 0, Offset: []byte{OpI32Const, 1, OpEnd}, Init: []byte("hi")},
		{Flags: 1, Init: []byte("p")},
		{Flags: 2, Offset: []byte{OpI32Const, 8, OpEnd}, Init: []byte("mem")},
	}
	if !reflect.DeepEqual(m.Data, want) {
		t.Fatalf("data = %+v, want %+v", m.Data, want)
	}
	m.MarkDirty(SecData)
	out, err := Encode(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, in) {
		t.Fatalf("re-encoded data section differs:\n% x\n% x", out, in)
	}
}
