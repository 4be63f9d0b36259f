package responses

import (
	"bytes"
	"testing"
)

// BenchmarkRequest: one Codex request (39 KB, 17 tools) translated to chat.
func BenchmarkRequest(b *testing.B) {
	for _, name := range []string{"string_input", "codex_default"} {
		body, _ := readFileB(b, "testdata/request/"+name+".json")
		b.Run(name, func(b *testing.B) {
			var tr Translator
			dst := make([]byte, 0, 64<<10)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := tr.AppendChatRequest(dst[:0], body, Options{Optional: DefaultOptional}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResponse: one chat.completion translated to a Response object.
func BenchmarkResponse(b *testing.B) {
	req, _ := readFileB(b, "testdata/request/string_input.json")
	answer, _ := readFileB(b, "testdata/response/text.chat.json")
	var tr Translator
	if _, err := tr.AppendChatRequest(nil, req, Options{}); err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.AppendResponse(dst[:0], answer); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent: one text delta chunk in, one output_text.delta event out (the steady
// state of a streamed answer); ns/op is the translation cost per streamed event.
func BenchmarkStreamEvent(b *testing.B) {
	req, _ := readFileB(b, "testdata/request/string_input.json")
	var tr Translator
	if _, err := tr.AppendChatRequest(nil, req, Options{}); err != nil {
		b.Fatal(err)
	}
	chunk := []byte(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-oss-120b","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	var s Stream
	s.Reset(&tr)
	dst := make([]byte, 0, 4096)
	dst, _ = s.Chunk(dst[:0], chunk) // opens the message item
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%4096 == 0 { // keep the accumulated text bounded
			s.curText = s.curText[:0]
		}
		out, _ := s.Chunk(dst[:0], chunk)
		if !bytes.HasPrefix(out, []byte("event: response.output_text.delta")) {
			b.Fatalf("%s", out)
		}
	}
}

func readFileB(b *testing.B, p string) ([]byte, error) {
	b.Helper()
	body, err := readFileBytes(p)
	if err != nil {
		b.Fatal(err)
	}
	return body, nil
}

// BenchmarkStreamEventRelayBaseline is what relaying the same chunk natively costs (framing it as
// SSE), the baseline BenchmarkStreamEvent is read against in the same run.
func BenchmarkStreamEventRelayBaseline(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700000000,"model":"gpt-oss-120b","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		out := append(dst[:0], "data: "...)
		out = append(out, chunk...)
		out = append(out, "\n\n"...)
		if len(out) == 0 {
			b.Fatal("empty")
		}
	}
}
