package wasmbin

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCommittedModulesMatchSources rebuilds each committed module from its
// source with the toolchain named in the source's header, when that
// toolchain is installed, and requires the same bytes: the committed .wasm
// files are what the round-trip tests run on without toolchains.
func TestCommittedModulesMatchSources(t *testing.T) {
	tests := []struct {
		wasm, tool string
		args       func(out string) []string
	}{
		{"testdata/all.wasm", "wat2wasm", func(out string) []string { return []string{"testdata/all.wat", "-o", out} }},
		{"../fuel/testdata/guest.wasm", "wat2wasm", func(out string) []string { return []string{"../fuel/testdata/guest.wat", "-o", out} }},
		{"testdata/c.wasm", "clang", func(out string) []string {
			return []string{"--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-o", out, "testdata/guest.c"}
		}},
		{"testdata/rust.wasm", "rustc", func(out string) []string {
			return []string{"--target", "wasm32-unknown-unknown", "--crate-type", "cdylib", "-O", "-o", out, "testdata/guest.rs"}
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.wasm), func(t *testing.T) {
			tool := tt.tool
			if tool == "rustc" {
				tool = "/usr/bin/rustc" // the Debian rustc that has the wasm32 std
			}
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("%s not installed", tool)
			}
			out := filepath.Join(t.TempDir(), "out.wasm")
			cmd := exec.Command(tool, tt.args(out)...)
			cmd.Dir = "."
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tool, err, msg)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(tt.wasm)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from a fresh build (%d vs %d bytes): rebuild it with the command in its source", tt.wasm, len(want), len(got))
			}
		})
	}
}
