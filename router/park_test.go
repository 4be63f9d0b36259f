//go:build linux

package router_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

// parkedNow is the router's gauge of streams parked on its event loops.
func parkedNow(t *testing.T, base string) float64 {
	return metricValue(t, scrape(t, base), "switchyard_streams_parked")
}

// dialRouter opens a client connection to the router, closed at cleanup.
func dialRouter(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendRaw writes one chat request on c; extra headers end with CRLF.
func sendRaw(t *testing.T, c net.Conn, body, extra string) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s", extra, len(body), body); err != nil {
		t.Fatal(err)
	}
}

// A parked stream is the stream a client always got — the same head, every
// event, [DONE], a well-formed chunked body — while no goroutine relays it;
// and the connection serves the client's next request afterwards, a second
// stream (parked too) and a JSON answer, in keep-alive.
func TestParkedStreamKeepsTheConnection(t *testing.T) {
	m := slowMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	c := dialRouter(t, base)
	br := bufio.NewReader(c)
	for i := range 2 {
		sendRaw(t, c, `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"parked `+fmt.Sprint(i)+`"}]}`, "")
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream %d: %v %v", i, err, resp)
		}
		if resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" ||
			resp.Header.Get("X-Switchyard-Upstream") != "up" || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("stream %d head: %v %v", i, resp.Header, resp.TransferEncoding)
		}
		events := bufio.NewReader(resp.Body)
		first, err := events.ReadString('\n')
		if err != nil || !strings.HasPrefix(first, "data: ") {
			t.Fatalf("stream %d first event: %q %v", i, first, err)
		}
		eventually(t, "the stream is parked", func() bool { return parkedNow(t, base) == 1 })
		rest, err := io.ReadAll(events)
		if err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
			t.Fatalf("stream %d: %q %v", i, rest, err)
		}
		text := assembleText(first + string(rest))
		if text != "You said: parked "+fmt.Sprint(i) {
			t.Fatalf("stream %d text %q", i, text)
		}
	}
	sendRaw(t, c, chatBody, "")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("JSON after the streams: %v %v", err, resp)
	}
	io.Copy(io.Discard, resp.Body)
	eventually(t, "no stream is parked", func() bool { return parkedNow(t, base) == 0 })
}

// assembleText joins the delta contents of a chat stream's events.
func assembleText(sse string) string {
	var b strings.Builder
	for _, line := range strings.Split(sse, "\n") {
		const key = `"content":"`
		if i := strings.Index(line, key); i >= 0 {
			rest := line[i+len(key):]
			b.WriteString(rest[:strings.IndexByte(rest, '"')])
		}
	}
	return b.String()
}

// A client that asked for Connection: close gets it, and the connection
// closes after the stream.
func TestParkedStreamHonoursConnectionClose(t *testing.T) {
	m := slowMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	c := dialRouter(t, base)
	sendRaw(t, c, streamBody, "Connection: close\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("%v %v", err, resp)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Fatalf("%q %v", body, err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the stream: %d, %v; want the connection closed", n, err)
	}
}

// A request pipelined behind a stream is served after it, not lost.
func TestParkedStreamThenPipelinedRequest(t *testing.T) {
	m := slowMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	c := dialRouter(t, base)
	var both strings.Builder
	for _, body := range []string{streamBody, chatBody} {
		fmt.Fprintf(&both, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	io.WriteString(c, both.String())
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Fatalf("stream body %q", body)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pipelined request: %v %v", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), `"chat.completion"`) {
		t.Fatalf("pipelined answer %q", body)
	}
}

// A client that stops reading a parked stream is cut within write_timeout,
// as a blocked write would have been: its stream ends, the upstream call
// with it, and it is counted as a client that left.
func TestParkedStreamStalledClientIsCut(t *testing.T) {
	var sse strings.Builder
	for sse.Len() < 16<<20 {
		sse.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"` + strings.Repeat("x", 400) + `"},"finish_reason":null}]}` + "\n\n")
	}
	sse.WriteString("data: [DONE]\n\n")
	up := config.Upstream{Name: "big", Provider: "openai", BaseURL: fixedUpstream(t, "text/event-stream", []byte(sse.String())),
		Auth: config.Auth{APIKey: "k"}, Models: map[string]string{"gpt-4o-mini": "gpt-4o-mini"}}
	base, in := startRouter(t, &config.Config{Limits: config.Limits{WriteTimeout: 300 * time.Millisecond},
		Cache: config.Cache{Policy: "off"}, Upstreams: []config.Upstream{up}})
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sendRaw(t, c, streamBody, "")
	head := make([]byte, 512)
	if _, err := io.ReadFull(c, head); err != nil || !strings.HasPrefix(string(head), "HTTP/1.1 200") {
		t.Fatalf("%q %v", head, err)
	}
	// The client reads no more.
	eventually(t, "the stalled stream was cut", func() bool {
		return disconnects(t, base) == 1 && parkedNow(t, base) == 0 && metricValue(t, scrape(t, base), "switchyard_streams_live") == 0
	})
	if s := in.Registry().Stats("big").Snapshot(); s.InFlight != 0 || s.Errors != 0 {
		t.Fatalf("upstream after the cut: %+v", s)
	}
}

// A parked stream past the request's deadline ends with an error event and
// a well-formed end, like a stream on its goroutine.
func TestParkedStreamPastItsDeadline(t *testing.T) {
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: time.Minute})
	base, in := startRouter(t, &config.Config{Limits: config.Limits{RequestTimeout: time.Second},
		Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	c := dialRouter(t, base)
	sendRaw(t, c, `{"model":"gpt-4o-mini","stream":true,"temperature":0.7,"messages":[{"role":"user","content":"think long"}]}`, "")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", err, resp)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(body), `"error"`) || !strings.HasPrefix(string(body), "data: ") {
		t.Fatalf("%q %v", body, err)
	}
	eventually(t, "the upstream call ended", func() bool { return in.Registry().Stats("up").Snapshot().InFlight == 0 })
}

// Every cloud's stream parks — OpenAI's, Azure's and Bedrock's SSE, Bedrock
// Converse's binary event stream, Vertex's SSE — and reads to the same end
// as it would on a goroutine.
func TestParkedOnEveryCloud(t *testing.T) {
	const delay = 20 * time.Millisecond
	sa, err := os.ReadFile("../examples/configs/mock-service-account.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"openai", "azure", "bedrock-openai", "bedrock-converse", "vertex"} {
		t.Run(kind, func(t *testing.T) {
			var u config.Upstream
			switch kind {
			case "openai":
				u = openaiUpstream("up", startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: delay}))
			case "azure":
				u = azureUpstream("up", startMock(t, mockcloud.Options{Provider: "azure", APIKey: "az-test", Models: []string{"mini-prod"}, ChunkDelay: delay}), "")
			case "bedrock-openai", "bedrock-converse":
				m := startMock(t, mockcloud.Options{Provider: "bedrock", AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret", ChunkDelay: delay})
				u = config.Upstream{Name: "up", Provider: "bedrock", BaseURL: m.URL(), Region: "us-east-1", API: strings.TrimPrefix(kind, "bedrock-"),
					Auth: config.Auth{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret"}, Models: map[string]string{"gpt-4o-mini": "openai.gpt-oss-20b-1:0"}}
			case "vertex":
				m := startMock(t, mockcloud.Options{Provider: "vertex", ServiceAccountJSON: sa, ChunkDelay: delay})
				path := filepath.Join(t.TempDir(), "sa.json")
				if err := os.WriteFile(path, m.ServiceAccountJSON(), 0o600); err != nil {
					t.Fatal(err)
				}
				u = config.Upstream{Name: "up", Provider: "vertex", BaseURL: m.URL(), Project: "p", Region: "us-central1",
					Auth: config.Auth{CredentialsFile: path}, Models: map[string]string{"gpt-4o-mini": "openai/gpt-oss-120b-maas"}}
			}
			base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{u}})
			c := dialRouter(t, base)
			sendRaw(t, c, `{"model":"gpt-4o-mini","stream":true,"temperature":0.7,"messages":[{"role":"user","content":"park me on every cloud please"}]}`, "")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v %v", err, resp)
			}
			events := bufio.NewReader(resp.Body)
			first, err := events.ReadString('\n')
			if err != nil || !strings.HasPrefix(first, "data: ") {
				t.Fatalf("first event %q %v", first, err)
			}
			eventually(t, "the stream is parked", func() bool { return parkedNow(t, base) == 1 })
			rest, err := io.ReadAll(events)
			if err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
				t.Fatalf("%q %v", rest, err)
			}
			if text := assembleText(first + string(rest)); !strings.Contains(text, "park me on every cloud please") {
				t.Fatalf("text %q", text)
			}
		})
	}
}

// limits.stream_loops: -1 parks no stream: each is relayed by its own
// goroutine, as before the event loops, and reads to the same end.
func TestStreamLoopsOffKeepsStreamsOnGoroutines(t *testing.T) {
	m := slowMock(t)
	base, _ := startRouter(t, &config.Config{Limits: config.Limits{StreamLoops: -1}, Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	c := dialRouter(t, base)
	sendRaw(t, c, streamBody, "")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", err, resp)
	}
	events := bufio.NewReader(resp.Body)
	if first, err := events.ReadString('\n'); err != nil || !strings.HasPrefix(first, "data: ") {
		t.Fatalf("first event %q %v", first, err)
	}
	if v := metricValue(t, scrape(t, base), "switchyard_streams_live"); v != 1 {
		t.Fatalf("streams live %v", v)
	}
	if v := parkedNow(t, base); v != 0 {
		t.Fatalf("parked %v with stream_loops -1", v)
	}
	if rest, err := io.ReadAll(events); err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("%q %v", rest, err)
	}
}
