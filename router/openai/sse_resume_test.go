package openai

import (
	"io"
	"strings"
	"testing"
)

// stutter hands out its bytes step at a time, with an ErrWouldBlock before
// each step: a non-blocking body whose socket empties at every step.
type stutter struct {
	b     string
	step  int
	ready bool
}

func (s *stutter) Read(p []byte) (int, error) {
	if !s.ready {
		s.ready = true
		return 0, ErrWouldBlock
	}
	s.ready = false
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), s.step)], s.b)
	s.b = s.b[n:]
	return n, nil
}

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
			r := AcquireSSEReader(&stutter{b: stream, step: step}, true)
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
