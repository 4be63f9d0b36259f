package responses

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTranslate: any body either translates to valid JSON or returns an *Error; a chat answer
// or chunk built from the same bytes never panics and every output is valid JSON or SSE.
func FuzzTranslate(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 8<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"n","namespace":"ns","arguments":"{}"}],"tools":[{"type":"custom","name":"c"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return // the router's scanner refuses invalid JSON before translation
		}
		var tr Translator
		chat, err := tr.AppendChatRequest(nil, body, Options{Optional: DefaultOptional})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if !json.Valid(chat) {
			t.Fatalf("invalid chat JSON %s", chat)
		}
		if resp, err := tr.AppendResponse(nil, body); err == nil && !json.Valid(resp) {
			t.Fatalf("invalid response JSON %s", resp)
		}
		var s Stream
		s.Reset(&tr)
		out, _ := s.Chunk(nil, body)
		out, _ = s.Done(out)
		for rest := out; len(rest) > 0; {
			_, data, r, ok := SplitEvent(rest)
			if !ok || !json.Valid(data) {
				t.Fatalf("bad event in %q", out)
			}
			rest = r
		}
	})
}
