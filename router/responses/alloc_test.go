//go:build !race

package responses

import (
	"bytes"
	"testing"
)

// Streaming allocates nothing per event once the Stream's buffers have grown: one chat chunk in,
// its Responses events out.
func TestStreamChunkAllocs(t *testing.T) {
	tr := answerTranslator(t)
	var s Stream
	chunks := bytes.Split(bytes.TrimSpace(readFile(t, "testdata/stream/reasoning_tools.chunks")), []byte("\n"))
	dst := make([]byte, 0, 64<<10)
	run := func() {
		s.Reset(tr)
		out := dst[:0]
		for _, c := range chunks[:len(chunks)-2] { // not the custom tool's close (its own parser)
			out, _ = s.Chunk(out, c)
		}
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("%.1f allocs per stream of %d chunks", n, len(chunks)-2)
	}
	text := bytes.Split(bytes.TrimSpace(readFile(t, "testdata/stream/text.chunks")), []byte("\n"))
	whole := func() {
		s.Reset(tr)
		out := dst[:0]
		for _, c := range text {
			out, _ = s.Chunk(out, c)
		}
		out, _ = s.Done(out)
	}
	whole()
	if n := testing.AllocsPerRun(200, whole); n != 0 {
		t.Fatalf("%.1f allocs per whole text stream", n)
	}
}

// Translating a request and a JSON answer reuses the Translator's buffers.
func TestTranslatorAllocs(t *testing.T) {
	req := readFile(t, "testdata/request/string_input.json")
	answer := readFile(t, "testdata/response/text.chat.json")
	var tr Translator
	dst := make([]byte, 0, 16<<10)
	run := func() {
		chat, _ := tr.AppendChatRequest(dst[:0], req, Options{})
		_, _ = tr.AppendResponse(chat[len(chat):], answer)
	}
	run()
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("%.1f allocs per request+answer", n)
	}
}

// Codex's whole default request (39 KB, 17 tools incl. a namespace and web_search) translates
// without allocating once the Translator has grown.
func TestCodexRequestAllocs(t *testing.T) {
	req := readFile(t, "testdata/request/codex_default.json")
	var tr Translator
	dst := make([]byte, 0, 64<<10)
	run := func() {
		if _, err := tr.AppendChatRequest(dst[:0], req, Options{Optional: DefaultOptional}); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if n := testing.AllocsPerRun(50, run); n != 0 {
		t.Fatalf("%.1f allocs per Codex request", n)
	}
}
