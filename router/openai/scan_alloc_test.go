//go:build !race

package openai

import (
	"os"
	"testing"
)

// TestScanAllocs guards the hot path: scanning a realistic chat body into a reused Request allocates
// nothing, including the escaped-model path once the scratch buffer has grown.
func TestScanAllocs(t *testing.T) {
	chat, err := os.ReadFile("testdata/chat_2k.json")
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{
		"chat_2k":       chat,
		"escaped model": []byte(`{"model":"gpt\u002d5\ud83d\ude00","str\u0065am":false,"messages":[{"role":"user","content":"hi"}],"temperature":0.5,"seed":7,"n":1}`),
	}
	for name, body := range bodies {
		var r Request
		if err := Scan(body, &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if err := Scan(body, &r); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Scan allocates %v times per run, want 0", name, allocs)
		}
	}
}
