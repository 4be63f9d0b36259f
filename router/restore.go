package router

import "bytes"

// Streamed answers carry the model's text in one JSON string per chunk:
// "content" (chat), "text" (completions) or "delta" (Responses API events).
// A placeholder such as <EMAIL_1> can be split across two chunks, so the
// string's raw bytes go through the stream's StreamRestorer, which holds back
// a possible partial placeholder until the next chunk. Why not decode the
// chunk? Splicing the one string keeps every other byte as the cloud sent it
// and costs no allocation.
var textKeys = [...][]byte{[]byte(`"content":"`), []byte(`"text":"`), []byte(`"delta":"`)}

var emptyDelta = []byte(`"delta":{}`)

// restoreChunk returns data with placeholders in its text restored, using
// x.restored as the buffer.
func restoreChunk(x *exchange, data []byte) []byte {
	for _, key := range textKeys {
		i := bytes.Index(data, key)
		if i < 0 {
			continue
		}
		start := i + len(key)
		end := stringEnd(data, start)
		if end < 0 {
			return data
		}
		out := append(x.restored[:0], data[:start]...)
		out = x.restorer.Restore(out, data[start:end])
		out = append(out, data[end:]...)
		x.restored = out
		return out
	}
	// A chunk without text (the finish chunk) releases anything held back.
	if x.restorer.Pending() {
		if i := bytes.Index(data, emptyDelta); i >= 0 {
			out := append(x.restored[:0], data[:i]...)
			out = append(out, `"delta":{"content":"`...)
			out = x.restorer.Flush(out)
			out = append(out, `"}`...)
			out = append(out, data[i+len(emptyDelta):]...)
			x.restored = out
			return out
		}
	}
	return data
}

// stringEnd returns the offset of the closing quote of the JSON string whose
// contents start at i, or -1.
func stringEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}
