package openai

import (
	"io"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/router/internal/stutter"
)

// An SSEReader over a non-blocking body returns ErrWouldBlock wherever the
// body ran dry — inside a name line, a data line, a multi-line event, a CR
// LF — and, called again, yields exactly the events a blocking read would:
// nothing lost, nothing doubled, the reader not released.
func TestSSEReaderResumesAfterWouldBlock(t *testing.T) {
	stream := "event: a\r\ndata: {\"x\":1}\r\n\r\n: comment\n\ndata: line one\ndata: line two\n\nevent: b\ndata: " +
		strings.Repeat("z", 5000) + "\n\ndata: [DONE]\n\n"
	want := []string{"a|{\"x\":1}", "|line one\nline two", "b|" + strings.Repeat("z", 5000)}
	for _, eager := range []bool{false, true} {
		for _, step := range []int{1, 3, 100, 8192} {
			r := AcquireSSEReader(&stutter.Reader{B: []byte(stream), Step: step, Block: ErrWouldBlock}, true)
			r.Eager(eager)
			var got []string
			var ev Event
			blocks := 0
			for range 100000 {
				err := r.Next(&ev)
				if err == ErrWouldBlock {
					blocks++
					continue
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				got = append(got, string(ev.Name)+"|"+string(ev.Data))
			}
			if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") || blocks == 0 {
				t.Fatalf("eager %v, step %d: %d would-blocks, events %q", eager, step, blocks, got)
			}
		}
	}
}
