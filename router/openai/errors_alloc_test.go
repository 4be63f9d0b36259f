//go:build !race

package openai

import "testing"

func TestAppendErrorAllocs(t *testing.T) {
	buf := make([]byte, 0, 512)
	msg := []byte("Invalid \"value\"\n for 'n': expected an integer. é\u2028\xff")
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendError(buf[:0], "Invalid \"value\"\n for 'n': é\u2028\xff", TypeForStatus(400), "n", "")
		buf = AppendJSONString(buf, msg)
	})
	if allocs != 0 {
		t.Errorf("AppendError + AppendJSONString allocate %v times per run, want 0", allocs)
	}
}
