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
	x.chunks.reset(&x.vault)
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

// Regression (issue 15.11): with n > 1, each choice has its own restorer, so
// bytes held back from one choice never end up in another, even when the
// chunks interleave and a chunk carries several choices.
func TestRestoreChunkPerChoice(t *testing.T) {
	x := new(exchange)
	x.vault.Add([]byte("<EMAIL_1>"), []byte("ann@a.example"))
	x.vault.Add([]byte("<EMAIL_2>"), []byte("bob@b.example"))
	x.chunks.reset(&x.vault)
	chunks := []string{
		`{"choices":[{"index":0,"delta":{"content":"to <EMA"}}]}`,
		`{"choices":[{"index":1,"delta":{"content":"cc <EMAIL_"}}]}`,
		`{"choices":[{"index":1,"delta":{"content":"2> and"}},{"delta":{"content":"IL_1>!"},"index":0}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{"content":" <"},"finish_reason":"stop"}]}`,
	}
	var got []string
	for _, c := range chunks {
		got = append(got, string(restoreChunk(x, []byte(c))))
	}
	want := []string{
		`{"choices":[{"index":0,"delta":{"content":"to "}}]}`,
		`{"choices":[{"index":1,"delta":{"content":"cc "}}]}`,
		`{"choices":[{"index":1,"delta":{"content":"bob@b.example and"}},{"delta":{"content":"ann@a.example!"},"index":0}]}`,
		`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{"content":" <"},"finish_reason":"stop"}]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Regression (issue 15.10): streamed tool-call arguments are restored, per
// tool call, placeholders split across chunks included.
func TestRestoreChunkToolArguments(t *testing.T) {
	x := new(exchange)
	x.vault.Add([]byte("<EMAIL_1>"), []byte("ann@a.example"))
	x.chunks.reset(&x.vault)
	chunks := []string{
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"send","arguments":"{\"to\":\"send to <EMA"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"x\":\"<EMAIL_1>\"}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"IL_1>\"}"},"index":0}]}}]}`,
	}
	var got []string
	for _, c := range chunks {
		got = append(got, string(restoreChunk(x, []byte(c))))
	}
	want := []string{
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"send","arguments":"{\"to\":\"send to "}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"x\":\"ann@a.example\"}"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"ann@a.example\"}"},"index":0}]}}]}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A held-back tail of a finished choice that has no content string in the
// finish chunk is put into that choice's delta, never dropped.
func TestRestoreChunkFlushIntoDelta(t *testing.T) {
	x := new(exchange)
	x.vault.Add([]byte("<EMAIL_1>"), []byte("ann@a.example"))
	x.chunks.reset(&x.vault)
	restoreChunk(x, []byte(`{"choices":[{"index":0,"delta":{"content":"a <EM"}}]}`))
	got := string(restoreChunk(x, []byte(`{"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":"length"}]}`)))
	if want := `{"choices":[{"index":0,"delta":{"content":"<EM","role":"assistant"},"finish_reason":"length"}]}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
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
