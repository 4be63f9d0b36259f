package bedrock

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/switchyard-dev/switchyard/router/internal/stutter"
	sse "github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Frames from reference/cloud-apis.md §3.3 (CRCs checked by botocore).
var refFrames = map[string]string{
	"messageStart":      "0000009f00000052b3115f700b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b2270223a226162636465666768696a6b6c6d6e6f707172737475767778797a4142434445464748222c22726f6c65223a22617373697374616e74227d22f70541",
	"contentBlockDelta": "000000bc00000057451afe2b0b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a2248656c6c6f227d2c2270223a226162636465666768696a6b6c6d6e6f707172737475767778797a41424344227dd4873a8b",
	"contentBlockStop":  "0000009500000056fecc83c80b3a6576656e742d74797065070010636f6e74656e74426c6f636b53746f700d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2270223a226162636465666768696a6b6c6d6e6f7071227d8dc2956d",
	"messageStop":       "000000a500000051c189aeed0b3a6576656e742d7479706507000b6d65737361676553746f700d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b2270223a226162636465666768696a6b6c6d6e6f707172737475767778797a4142434445464748494a222c2273746f70526561736f6e223a22656e645f7475726e227d49fb9fa7",
	"metadata":          "000000cd0000004ee5c39f940b3a6576656e742d747970650700086d657461646174610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b226d657472696373223a7b226c6174656e63794d73223a3431327d2c2270223a226162636465666768696a6b6c6d6e222c227573616765223a7b22696e707574546f6b656e73223a31322c226f7574707574546f6b656e73223a322c22746f74616c546f6b656e73223a31347d7d73a388ad",
	"throttle":          "000000b2000000613590d5d30f3a657863657074696f6e2d747970650700137468726f74746c696e67457863657074696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065070009657863657074696f6e7b226d657373616765223a22546f6f206d616e792072657175657374732c20706c656173652077616974206265666f726520747279696e6720616761696e2e227de8ffb26a",
}

func frames(t testing.TB, names ...string) []byte {
	var b []byte
	for _, n := range names {
		f, err := hex.DecodeString(refFrames[n])
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, f...)
	}
	return b
}

// encodeFrame builds a frame with aws-sdk-go-v2's own encoder.
func encodeFrame(t testing.TB, msgType, typeHeader, typ, payload string) []byte {
	var m eventstream.Message
	m.Headers.Set(":message-type", eventstream.StringValue(msgType))
	if typeHeader != "" {
		m.Headers.Set(typeHeader, eventstream.StringValue(typ))
	}
	m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	m.Payload = []byte(payload)
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chunkRest strips the per-stream head (random id) from a chunk.
func chunkRest(t testing.TB, data []byte) string {
	const want = `,"object":"chat.completion.chunk","created":1700000000,"model":"gpt-oss-20b","choices":`
	i := bytes.Index(data, []byte(want))
	if !bytes.HasPrefix(data, []byte(`{"id":"chatcmpl-`)) || i < 0 {
		t.Fatalf("chunk head: %s", data)
	}
	return string(data[i+len(want):])
}

func readAll(t testing.TB, r provider.EventReader) ([]string, error) {
	var out []string
	var ev provider.Event
	for {
		err := r.Next(&ev)
		if err != nil {
			return out, err
		}
		out = append(out, chunkRest(t, ev.Data))
	}
}

var refWant = []string{
	`[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
	`[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}`,
	`[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
	`[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}`,
}

func TestStreamReferenceFrames(t *testing.T) {
	body := frames(t, "messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata")
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(body) },
		"one-byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(body)) },
		// One frame split across two reads at an awkward offset (inside the
		// headers of the second frame).
		"split": func() io.Reader {
			cut := 0x9f + 20
			return io.MultiReader(bytes.NewReader(body[:cut]), bytes.NewReader(body[cut:]))
		},
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			got, err := readAll(t, newStreamReader(mk(), "gpt-oss-20b", 1700000000))
			if err != io.EOF {
				t.Fatalf("end = %v, want io.EOF", err)
			}
			if strings.Join(got, "\n") != strings.Join(refWant, "\n") {
				t.Fatalf("chunks\n got %q\nwant %q", got, refWant)
			}
		})
	}
}

// TestStreamEmitsAsItArrives guards against buffering: the first chunk must be
// returned while the rest of the body has not been written yet.
func TestStreamEmitsAsItArrives(t *testing.T) {
	pr, pw := io.Pipe()
	r := newStreamReader(pr, "gpt-oss-20b", 1700000000)
	go pw.Write(frames(t, "messageStart"))
	var ev provider.Event
	if err := r.Next(&ev); err != nil {
		t.Fatal(err)
	}
	if got := chunkRest(t, ev.Data); got != refWant[0] {
		t.Fatalf("got %s", got)
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
}

func TestStreamEnds(t *testing.T) {
	full := frames(t, "messageStart", "contentBlockDelta")
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"no messageStop", full, io.ErrUnexpectedEOF},
		{"cut mid-frame", full[:len(full)-30], io.ErrUnexpectedEOF},
		{"cut in prelude", append(frames(t, "messageStart"), 0, 0, 0), io.ErrUnexpectedEOF},
		{"empty", nil, io.ErrUnexpectedEOF},
		{"stop without metadata", frames(t, "messageStart", "messageStop"), io.EOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, newStreamReader(bytes.NewReader(tc.body), "gpt-oss-20b", 1700000000))
			if err != tc.want {
				t.Fatalf("end = %v, want %v", err, tc.want)
			}
		})
	}
	bad := frames(t, "messageStart")
	bad[len(bad)-1] ^= 1
	_, err := readAll(t, newStreamReader(bytes.NewReader(bad), "gpt-oss-20b", 1700000000))
	if !errors.Is(err, ErrStream) {
		t.Fatalf("bad CRC: %v", err)
	}
}

func TestStreamExceptions(t *testing.T) {
	cases := []struct {
		name   string
		frame  []byte
		status int
		code   string
		retry  bool
	}{
		{"reference throttle", frames(t, "throttle"), 429, "throttlingException", true},
		{"validation", encodeFrame(t, "exception", ":exception-type", "validationException", `{"message":"bad"}`), 400, "validationException", false},
		{"model stream", encodeFrame(t, "exception", ":exception-type", "modelStreamErrorException", `{"message":"x"}`), 424, "modelStreamErrorException", true},
		{"unavailable", encodeFrame(t, "exception", ":exception-type", "serviceUnavailableException", `{"message":"x"}`), 503, "serviceUnavailableException", true},
		{"internal", encodeFrame(t, "exception", ":exception-type", "internalServerException", `{"message":"x"}`), 500, "internalServerException", true},
		{"unmodelled error", encodeFrame(t, "error", ":error-code", "InternalFailure", ``), 500, "InternalFailure", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := append(frames(t, "messageStart", "contentBlockDelta"), tc.frame...)
			got, err := readAll(t, newStreamReader(bytes.NewReader(body), "gpt-oss-20b", 1700000000))
			if len(got) != 2 {
				t.Fatalf("chunks before the exception: %d", len(got))
			}
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *provider.Error", err)
			}
			if pe.Status != tc.status || pe.Code != tc.code || pe.Retryable != tc.retry || pe.Message == "" {
				t.Fatalf("got %+v", pe)
			}
		})
	}
}

func TestStreamToolUse(t *testing.T) {
	var body []byte
	for _, f := range []struct{ typ, payload string }{
		{"messageStart", `{"role":"assistant"}`},
		{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"thinking"}},"p":"abc"}`},
		{"contentBlockStop", `{"contentBlockIndex":0}`},
		{"contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"city\":"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"\"Paris\"}"}}}`},
		{"contentBlockStop", `{"contentBlockIndex":1}`},
		{"contentBlockStart", `{"contentBlockIndex":2,"start":{"toolUse":{"toolUseId":"tooluse_2","name":"get_time"}}}`},
		{"contentBlockDelta", `{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{}"}}}`},
		{"someFutureEvent", `{"x":1}`},
		{"messageStop", `{"stopReason":"tool_use"}`},
		{"metadata", `{"usage":{"inputTokens":5,"outputTokens":7,"totalTokens":12,"cacheReadInputTokens":3},"metrics":{"latencyMs":1}}`},
	} {
		body = append(body, encodeFrame(t, "event", ":event-type", f.typ, f.payload)...)
	}
	got, err := readAll(t, newStreamReader(bytes.NewReader(body), "gpt-oss-20b", 1700000000))
	if err != io.EOF {
		t.Fatal(err)
	}
	want := []string{
		`[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
		`[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"tooluse_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`,
		`[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}]}`,
		`[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"logprobs":null,"finish_reason":null}]}`,
		`[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"tooluse_2","type":"function","function":{"name":"get_time","arguments":""}}]},"logprobs":null,"finish_reason":null}]}`,
		`[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]},"logprobs":null,"finish_reason":null}]}`,
		`[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}`,
		`[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":3}}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("chunks\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// FuzzStream feeds arbitrary bytes to the event-stream reader: it must end
// with an error and never panic.
func FuzzStream(f *testing.F) {
	for _, n := range []string{"messageStart", "contentBlockDelta", "messageStop", "metadata", "throttle"} {
		f.Add(frames(f, n))
	}
	f.Add(frames(f, "messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"))
	f.Fuzz(func(t *testing.T, body []byte) {
		// Blocking, and eager over a body that runs dry every 7 bytes (a
		// parked stream): the same chunks, and both end cleanly or both fail
		// (a frame both cut short and corrupt may fail differently: the
		// eager reader sees the cut first, having waited for the whole frame).
		read := func(r *streamReader) ([]string, error) {
			var got []string
			var ev provider.Event
			for i := 0; i < 100000; i++ {
				err := r.Next(&ev)
				if err == sse.ErrWouldBlock {
					continue
				}
				if err != nil {
					return got, err
				}
				got = append(got, chunkRest(t, ev.Data))
			}
			t.Fatal("reader did not end")
			return nil, nil
		}
		want, wantErr := read(newStreamReader(bytes.NewReader(body), "gpt-oss-20b", 1700000000))
		eager := newStreamReader(&stutter.Reader{B: body, Step: 7, Block: sse.ErrWouldBlock}, "gpt-oss-20b", 1700000000)
		eager.Eager(true)
		got, gotErr := read(eager)
		// After messageStop, bytes that are less than a frame end the
		// blocking decoder cleanly or not depending on where they stop
		// inside its fields: only the chunks are compared then.
		if strings.Join(got, "\n") != strings.Join(want, "\n") || (!eager.stopped && errors.Is(gotErr, io.EOF) != errors.Is(wantErr, io.EOF)) {
			t.Fatalf("eager: %d chunks, %v; blocking: %d chunks, %v", len(got), gotErr, len(want), wantErr)
		}
	})
}

// In eager mode (a parked stream) the reader returns sse.ErrWouldBlock
// wherever the body runs dry — in a prelude, in headers, in a payload — and
// yields the same chunks and the same ends as a blocking read, the cut-short
// and corrupt bodies included.
func TestStreamEagerResumesAnywhere(t *testing.T) {
	body := frames(t, "messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata")
	full := frames(t, "messageStart", "contentBlockDelta")
	bad := frames(t, "messageStart")
	bad[len(bad)-1] ^= 1
	cases := []struct {
		body   []byte
		chunks []string
		end    error
	}{
		{body, refWant, io.EOF},
		{full[:len(full)-30], nil, io.ErrUnexpectedEOF},
		{append(frames(t, "messageStart"), 0, 0, 0), nil, io.ErrUnexpectedEOF},
		{nil, nil, io.ErrUnexpectedEOF},
		{bad, nil, ErrStream},
	}
	for i, tc := range cases {
		for _, step := range []int{1, 5, 64, 1 << 20} {
			r := newStreamReader(&stutter.Reader{B: tc.body, Step: step, Block: sse.ErrWouldBlock}, "gpt-oss-20b", 1700000000)
			r.Eager(true)
			var got []string
			var ev provider.Event
			var err error
			blocks := 0
			for range 100000 {
				if err = r.Next(&ev); err == sse.ErrWouldBlock {
					blocks++
					continue
				}
				if err != nil {
					break
				}
				got = append(got, chunkRest(t, ev.Data))
			}
			if !errors.Is(err, tc.end) || blocks == 0 {
				t.Fatalf("case %d, step %d: end %v (%d would-blocks), want %v", i, step, err, blocks, tc.end)
			}
			if tc.chunks != nil && strings.Join(got, "\n") != strings.Join(tc.chunks, "\n") {
				t.Fatalf("case %d, step %d: chunks\n got %q\nwant %q", i, step, got, tc.chunks)
			}
		}
	}
}
