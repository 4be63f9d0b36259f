//go:build !race

package router

import "testing"

// Restoring a streamed chunk (the walk, a split placeholder, tool arguments)
// allocates nothing once the exchange's buffers have grown.
func TestRestoreChunkAllocs(t *testing.T) {
	x := new(exchange)
	x.vault.Add([]byte("<EMAIL_1>"), []byte("ann@a.example"))
	chunks := [][]byte{
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"to <EMA"},"finish_reason":null}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"IL_1> ok","tool_calls":[{"index":0,"function":{"arguments":"{\"a\":\"<EMAIL_1>\"}"}}]},"finish_reason":null}]}`),
		[]byte(`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
	}
	run := func() {
		x.chunks.reset(&x.vault)
		for _, c := range chunks {
			restoreChunk(x, c)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("restoreChunk allocates %.1f times per stream", n)
	}
}
