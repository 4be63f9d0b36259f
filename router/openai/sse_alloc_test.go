//go:build !race

package openai

import (
	"bytes"
	"testing"
)

// Relaying one SSE event (read it from the upstream body, append it for the
// client) must not allocate: it happens once per token on every stream.
func TestSSERelayEventAllocs(t *testing.T) {
	chunk := []byte("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n")
	body := bytes.NewReader(nil)
	out := make([]byte, 0, 1024)
	var ev Event
	allocs := testing.AllocsPerRun(1000, func() {
		body.Reset(chunk)
		r := AcquireSSEReader(body, false)
		if err := r.Next(&ev); err != nil {
			t.Fatal(err)
		}
		out = AppendEvent(out[:0], ev.Name, ev.Data)
		_ = r.Next(&ev) // io.EOF returns the reader to its pool
	})
	if allocs != 0 {
		t.Fatalf("relaying one event allocated %.1f times", allocs)
	}
}
