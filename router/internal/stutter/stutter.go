// Package stutter is a test body for readers an event loop drives: a
// non-blocking body whose socket empties after every few bytes.
package stutter

import "io"

// Reader hands out Step bytes of B at a time, with the error Block (the
// caller's openai.ErrWouldBlock: this package imports nothing of the
// router's, so openai's own tests can use it) before each step, and io.EOF
// at the end.
type Reader struct {
	B     []byte
	Step  int
	Block error
	ready bool
}

func (s *Reader) Read(p []byte) (int, error) {
	if !s.ready {
		s.ready = true
		return 0, s.Block
	}
	s.ready = false
	if len(s.B) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), s.Step)], s.B)
	s.B = s.B[n:]
	return n, nil
}
