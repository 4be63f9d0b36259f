//go:build !race

package plugins

import "testing"

func TestVaultZeroAlloc(t *testing.T) {
	src := []byte(`{"messages":[{"content":"mail <EMAIL_1> or <EMAIL_2> please"}]}`)
	dst := make([]byte, 0, 256)
	var r StreamRestorer
	run := func() {
		v := AcquireVault()
		v.Add([]byte("<EMAIL_1>"), []byte("a@b.c"))
		v.Add([]byte("<EMAIL_2>"), []byte("d@e.f"))
		dst = v.Restore(dst[:0], src)
		r.Reset(v)
		dst = r.Restore(dst[:0], []byte("x <EMA"))
		dst = r.Restore(dst, []byte("IL_2> y"))
		dst = r.Flush(dst)
		ReleaseVault(v)
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("allocs per request = %v, want 0", n)
	}
}
