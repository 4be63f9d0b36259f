package openai

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every event of body through an SSEReader and returns their
// names and payloads, copied, and the final error.
func readEvents(t *testing.T, r io.Reader) (names, datas []string, err error) {
	t.Helper()
	sr := AcquireSSEReader(r, true)
	var ev Event
	for range 10000 {
		if err = sr.Next(&ev); err != nil {
			return names, datas, err
		}
		names, datas = append(names, string(ev.Name)), append(datas, string(ev.Data))
	}
	t.Fatal("no end")
	return
}

// Multi-line data is joined in place, also when the event is split across
// many reads (one byte each: every line forces a fill that compacts or grows
// the buffer while the event's data is kept).
func TestSSEReaderInPlaceJoin(t *testing.T) {
	big := strings.Repeat("x", 3*sseBufSize)
	body := "event: e1\ndata: a\r\ndata:b\rdata:  c\n: note\nid: 7\ndata\n\n" +
		"data: " + big + "\ndata: " + big + "\n\n" +
		"data: {\"k\":1}\n\ndata: [DONE]\n\n"
	for name, r := range map[string]func() io.Reader{
		"whole":   func() io.Reader { return strings.NewReader(body) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
		"halves":  func() io.Reader { return iotest.HalfReader(strings.NewReader(body)) },
	} {
		names, datas, err := readEvents(t, r())
		if err != io.EOF {
			t.Fatalf("%s: end %v", name, err)
		}
		want := []string{"a\nb\n c\n", big + "\n" + big, `{"k":1}`}
		if len(datas) != len(want) || names[0] != "e1" || names[1] != "" {
			t.Fatalf("%s: events %q %d", name, names, len(datas))
		}
		for i := range want {
			if datas[i] != want[i] {
				t.Fatalf("%s: event %d = %.40q…, want %.40q…", name, i, datas[i], want[i])
			}
		}
	}
}

// An event's payload is a view into the reader's buffer (no copy), capped so
// that appending to it cannot overwrite the bytes not yet read.
func TestSSEReaderDataIsCappedView(t *testing.T) {
	sr := AcquireSSEReader(strings.NewReader("data: {\"a\":1}\n\ndata: {\"b\":2}\n\n"), false)
	var ev Event
	if err := sr.Next(&ev); err != nil {
		t.Fatal(err)
	}
	if cap(ev.Data) != len(ev.Data) || &ev.Data[0] != &sr.buf[len("data: ")] {
		t.Fatalf("payload is not an in-place capped view: len %d cap %d", len(ev.Data), cap(ev.Data))
	}
	_ = append(ev.Data, "XXXXXXXX"...)
	if err := sr.Next(&ev); err != nil || string(ev.Data) != `{"b":2}` {
		t.Fatalf("next event after an append to the previous one: %q %v", ev.Data, err)
	}
}

// Buffered is true exactly when the buffered bytes hold a complete event
// that Next will dispatch without reading.
func TestSSEReaderBuffered(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{"", false},
		{"data: x\n", false},
		{"data: x\n\n", true},
		{"data: x\r\n\r\n", true},
		{"data: x\r\r", true},
		{"data: x\r\n", false},
		{": keep-alive\n\n", false},       // dispatches nothing: Next would wait
		{"event: e\n\n", false},           // no data: nothing dispatched
		{": ping\n\ndata: y\n\n", true},   // the data event after it is complete
		{"datum: y\n\n", false},           // another field
		{"data\n\n", true},                // an empty data line still dispatches
		{"data: [DONE]\n\n", true},        // Next returns io.EOF without reading
		{"data: a\ndata: b\n", false},     // not yet terminated
		{"data: a\n\ndata: b\n\n", true},  // the second of two buffered events
		{"id: 1\ndata: a\r\n\r\n", true},  // other fields before data
		{"data: a\r\ndata: b\r\n", false}, // CRLF lines, no blank line yet
	} {
		sr := AcquireSSEReader(strings.NewReader(""), false)
		sr.buf = make([]byte, 64) // a parked reader holds no buffer (parkSize)
		sr.end = copy(sr.buf, c.body)
		if got := sr.Buffered(); got != c.want {
			t.Errorf("Buffered(%q) = %v, want %v", c.body, got, c.want)
		}
	}
	// After Next consumed the first of two buffered events, the second is
	// reported; after it, nothing.
	sr := AcquireSSEReader(bytes.NewReader([]byte("data: 1\n\ndata: 2\n\ndata: 3")), false)
	var ev Event
	if err := sr.Next(&ev); err != nil || !sr.Buffered() {
		t.Fatalf("first: %v, buffered %v", err, sr.Buffered())
	}
	if err := sr.Next(&ev); err != nil || sr.Buffered() {
		t.Fatalf("second: %v, buffered %v", err, sr.Buffered())
	}
}

// A reader waiting for its next event holds no buffer: the wait is a read
// into its small park array (issue 16, memory per stream). Events longer
// than that array, and events that arrive in pieces, still come out whole.
func TestSSEReaderParksWithoutABuffer(t *testing.T) {
	long := strings.Repeat("x", 3*parkSize)
	body := "data: {\"a\":\"" + long + "\"}\n\ndata: {\"b\":1}\n\n" + "data: [DONE]\n\n"
	w := &watchReads{r: strings.NewReader(body), chunk: 100}
	sr := AcquireSSEReader(w, true)
	w.sr = sr
	var ev Event
	if err := sr.Next(&ev); err != nil || string(ev.Data) != `{"a":"`+long+`"}` {
		t.Fatalf("long event: %v %.40q", err, ev.Data)
	}
	if err := sr.Next(&ev); err != nil || string(ev.Data) != `{"b":1}` {
		t.Fatalf("second event: %v %q", err, ev.Data)
	}
	if err := sr.Next(&ev); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if w.parked == 0 || w.heldWhileParked != 0 {
		t.Fatalf("%d park reads, %d of them with a buffer held", w.parked, w.heldWhileParked)
	}
}

// watchReads hands out at most chunk bytes per Read and notes, for every
// read into a park buffer (parkSize long), whether the reader held a buffer.
type watchReads struct {
	r                       io.Reader
	sr                      *SSEReader
	chunk                   int
	parked, heldWhileParked int
}

func (w *watchReads) Read(p []byte) (int, error) {
	if len(p) == parkSize {
		w.parked++
		if w.sr.buf != nil {
			w.heldWhileParked++
		}
	}
	return w.r.Read(p[:min(len(p), w.chunk)])
}
