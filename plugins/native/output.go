package native

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// lineLog turns one output stream of a plugin process into log records, one
// per whole line, whatever the writes' sizes: go-plugin hands stderr over
// line by line, the synced stdio stream in arbitrary chunks. A line longer
// than maxLine is cut there and marked truncated; the rest of it is dropped.
// Safe for concurrent use.
type lineLog struct {
	log    *slog.Logger
	stream string
	pid    atomic.Int64 // set once the process started

	mu        sync.Mutex
	buf       []byte
	truncated bool // buf hit maxLine; drop until the next newline
}

func newLineLog(log *slog.Logger, stream string) *lineLog {
	return &lineLog{log: log, stream: stream}
}

func (w *lineLog) Write(b []byte) (int, error) {
	n := len(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if room := maxLine - len(w.buf); len(chunk) > room {
			chunk = chunk[:room]
			w.truncated = true
		}
		w.buf = append(w.buf, chunk...)
		if i < 0 {
			break
		}
		w.emit()
		b = b[i+1:]
	}
	return n, nil
}

// flush logs an unterminated last line (the process ended mid-line).
func (w *lineLog) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit()
	}
}

func (w *lineLog) emit() {
	line := bytes.TrimRight(w.buf, "\r")
	if len(line) > 0 {
		attrs := []slog.Attr{slog.String("stream", w.stream), slog.Int64("pid", w.pid.Load()), slog.String("line", string(line))}
		if w.truncated {
			attrs = append(attrs, slog.Bool("truncated", true))
		}
		w.log.LogAttrs(context.Background(), slog.LevelInfo, "plugin output", attrs...)
	}
	w.buf = w.buf[:0]
	w.truncated = false
}
