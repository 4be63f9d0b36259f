package router

import (
	"strings"
	"testing"
)

// A placeholder split across two stream chunks ("<EMA" + "IL_1>") is
// restored whole; text held back is released by the finish chunk.
func TestRestoreChunkSplitPlaceholder(t *testing.T) {
	x := new(exchange)
	x.vault.Add([]byte("<EMAIL_1>"), []byte(`a"b@example.com`))
	x.restorer.Reset(&x.vault)
	chunks := []string{
		`{"choices":[{"index":0,"delta":{"content":"mail <EMA"},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":"IL_1> now <"},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	}
	var got []string
	for _, c := range chunks {
		got = append(got, string(restoreChunk(x, []byte(c))))
	}
	want := []string{
		`{"choices":[{"index":0,"delta":{"content":"mail "},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":"a\"b@example.com now "},"finish_reason":null}]}`,
		`{"choices":[{"index":0,"delta":{"content":"<"},"finish_reason":"stop"}]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUpstreamBody(t *testing.T) {
	tests := []struct{ in, model, want string }{
		{`{"model":"m","stream":true,"messages":[]}`, "dep-1", `{"model":"dep-1","stream":true,"messages":[],"stream_options":{"include_usage":true}}`},
		{`{"stream_options":{},"model":"m","stream":true}`, "x", `{"stream_options":{"include_usage":true},"model":"x","stream":true}`},
		{`{"model":"m","stream":true,"stream_options":{"include_usage":false}}`, "openai.gpt-oss-20b-1:0", `{"model":"openai.gpt-oss-20b-1:0","stream":true,"stream_options":{"include_usage":false,"include_usage":true}}`},
	}
	x := new(exchange)
	for _, tt := range tests {
		if err := scanFor(x, tt.in); err != nil {
			t.Fatal(err)
		}
		got := string(upstreamBody(nil, []byte(tt.in), &x.scan, tt.model, true))
		if got != tt.want {
			t.Fatalf("got  %s\nwant %s", got, tt.want)
		}
	}
}
