package openai

import (
	"encoding/json"
	"os"
	"testing"
)

func loadChat(b *testing.B) []byte {
	b.Helper()
	body, err := os.ReadFile("testdata/chat_2k.json")
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkScan measures Scan on the 2 KB chat fixture; compare with BenchmarkScanEncodingJSON.
func BenchmarkScan(b *testing.B) {
	body := loadChat(b)
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := Scan(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// encodingJSONRequest is the smallest struct that gets the same information from encoding/json.
// Messages is decoded as raw values only to count them, which is already cheaper than a typed decode.
type encodingJSONRequest struct {
	Model         string            `json:"model"`
	Messages      []json.RawMessage `json:"messages"`
	Stream        bool              `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Seed                *int64          `json:"seed"`
	N                   *int            `json:"n"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	MaxOutputTokens     *int            `json:"max_output_tokens"`
	Input               json.RawMessage `json:"input"`
	Prompt              json.RawMessage `json:"prompt"`
}

// BenchmarkScanEncodingJSON is the baseline: encoding/json into a small struct.
func BenchmarkScanEncodingJSON(b *testing.B) {
	body := loadChat(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var r encodingJSONRequest
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}
