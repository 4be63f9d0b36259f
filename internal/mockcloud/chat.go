package mockcloud

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// This file answers OpenAI-shaped chat completions for every dialect that speaks them (OpenAI,
// Azure, Bedrock's and Vertex's OpenAI-compatible endpoints): the JSON body of §1.3 / §2.3 and the
// SSE stream of §1.4 / §2.3, built by appending bytes so the mock stays cheap as a benchmark upstream.

// answer is the generated reply for one request.
type answer struct {
	text   string
	pieces []string
	finish string // stop | length | tool_calls
	tool   *forcedTool
	callID string
}

func (s *Server) makeAnswer(r *genReq) answer {
	if r.tool != nil {
		return answer{tool: r.tool, callID: callID(), finish: "tool_calls", pieces: splitArgs(r.tool.chatArgs())}
	}
	var text string
	if r.toolResult != nil {
		text = toolReply(r.toolName, *r.toolResult)
	} else {
		text = s.reply(r.lastUser)
	}
	pieces := splitPieces(text)
	a := answer{text: text, pieces: pieces, finish: "stop"}
	if r.maxTokens > 0 && len(pieces) > r.maxTokens {
		a.pieces = pieces[:r.maxTokens]
		a.text = strings.Join(a.pieces, "")
		a.finish = "length"
	}
	return a
}

// completionTokens is the usage figure for the answer: one token per streamed piece.
func (a *answer) completionTokens() int {
	if a.tool != nil {
		return estimateTokens(len(a.tool.args))
	}
	return len(a.pieces)
}

// splitArgs cuts tool-call arguments into the string fragments a stream carries.
func splitArgs(args string) []string {
	const frag = 8
	var out []string
	for len(args) > frag {
		out = append(out, args[:frag])
		args = args[frag:]
	}
	return append(out, args)
}

// Azure content-filter annotations (§2.3), all "safe".
const (
	azurePromptFilter = `[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]`
	azureChoiceFilter = `{"hate":{"filtered":false,"severity":"safe"},"protected_material_code":{"filtered":false,"detected":false},"protected_material_text":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`
	azureChunkFilter  = `{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`
)

func appendUsage(b []byte, st style, prompt, completion int) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = appendInt(b, int64(prompt))
	b = append(b, `,"completion_tokens":`...)
	b = appendInt(b, int64(completion))
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, int64(prompt+completion))
	if st == styleOpenAI {
		b = append(b, `,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}`...)
	}
	return append(b, '}')
}

// appendChatMessage appends the assistant message object of a non-streamed answer.
func appendChatMessage(b []byte, a *answer) []byte {
	if a.tool != nil {
		b = append(b, `{"role":"assistant","content":null,"tool_calls":[{"id":`...)
		b = appendJSONString(b, a.callID)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = appendJSONString(b, a.tool.name)
		b = append(b, `,"arguments":`...)
		b = appendJSONString(b, a.tool.chatArgs())
		return append(b, `}}],"refusal":null,"annotations":[]}`...)
	}
	b = append(b, `{"role":"assistant","content":`...)
	b = appendJSONString(b, a.text)
	return append(b, `,"refusal":null,"annotations":[]}`...)
}

// chatJSON builds the non-streamed chat.completion body.
func chatJSON(st style, id, model string, created int64, r *genReq, a *answer) []byte {
	b := make([]byte, 0, 1024+len(a.text))
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"object":"chat.completion","created":`...)
	b = appendInt(b, created)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, model)
	if st == styleAzure {
		b = append(b, `,"prompt_filter_results":`...)
		b = append(b, azurePromptFilter...)
	}
	b = append(b, `,"choices":[{"index":0,"message":`...)
	b = appendChatMessage(b, a)
	b = append(b, `,"logprobs":null,"finish_reason":`...)
	b = appendJSONString(b, a.finish)
	if st == styleAzure {
		b = append(b, `,"content_filter_results":`...)
		b = append(b, azureChoiceFilter...)
	}
	b = append(b, `}],"usage":`...)
	b = appendUsage(b, st, r.promptTokens(), a.completionTokens())
	if st == styleOpenAI {
		b = append(b, `,"service_tier":"default"`...)
	}
	if st == styleVertex {
		b = append(b, `,"system_fingerprint":""}`...)
	} else {
		b = append(b, `,"system_fingerprint":"`+fingerprint+`"}`...)
	}
	return b
}

// chunker builds chat.completion.chunk events. Azure orders keys alphabetically and annotates
// choices with content_filter_results; the others follow OpenAI's order (§1.4, §2.3).
type chunker struct {
	st           style
	id, model    string
	created      int64
	includeUsage bool
}

// event appends one `data: {chunk}\n\n` event; delta is raw JSON, finish "" means null, filter is
// Azure's per-choice annotation (raw JSON, "" to omit).
func (c *chunker) event(b []byte, delta, finish, filter string) []byte {
	b = append(b, "data: "...)
	if c.st == styleAzure {
		b = append(b, `{"choices":[{"content_filter_results":`...)
		b = append(b, filter...)
		b = append(b, `,"delta":`...)
		b = append(b, delta...)
		b = append(b, `,"finish_reason":`...)
		b = appendNullable(b, finish)
		b = append(b, `,"index":0,"logprobs":null}],"created":`...)
		b = appendInt(b, c.created)
		b = append(b, `,"id":`...)
		b = appendJSONString(b, c.id)
		b = append(b, `,"model":`...)
		b = appendJSONString(b, c.model)
		b = append(b, `,"object":"chat.completion.chunk","system_fingerprint":"`+fingerprint+`"`...)
		if c.includeUsage {
			b = append(b, `,"usage":null`...)
		}
		return append(b, "}\n\n"...)
	}
	b = c.head(b)
	b = append(b, `"choices":[{"index":0,"delta":`...)
	b = append(b, delta...)
	b = append(b, `,"logprobs":null,"finish_reason":`...)
	b = appendNullable(b, finish)
	b = append(b, "}]"...)
	if c.includeUsage {
		b = append(b, `,"usage":null`...)
	}
	return append(b, "}\n\n"...)
}

func (c *chunker) head(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, c.id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = appendInt(b, c.created)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, c.model)
	if c.st == styleVertex {
		return append(b, `,"system_fingerprint":"",`...)
	}
	return append(b, `,"system_fingerprint":"`+fingerprint+`",`...)
}

// usageEvent is the extra chunk sent before [DONE] when include_usage is set.
func (c *chunker) usageEvent(b []byte, prompt, completion int) []byte {
	b = append(b, "data: "...)
	if c.st == styleAzure {
		b = append(b, `{"choices":[],"created":`...)
		b = appendInt(b, c.created)
		b = append(b, `,"id":`...)
		b = appendJSONString(b, c.id)
		b = append(b, `,"model":`...)
		b = appendJSONString(b, c.model)
		b = append(b, `,"object":"chat.completion.chunk","system_fingerprint":"`+fingerprint+`","usage":`...)
	} else {
		b = c.head(b)
		b = append(b, `"choices":[],"usage":`...)
	}
	b = appendUsage(b, c.st, prompt, completion)
	return append(b, "}\n\n"...)
}

// streamer writes events one at a time, flushing each, and applies ChunkDelay and the
// mid-stream parts of a fault. It runs inside fasthttp's body stream writer, or, for a stream that
// a fault cuts short, on the hijacked connection (see Server.stream).
type streamer struct {
	s    *Server
	w    *bufio.Writer
	conn net.Conn
	f    Fault
	n    int
	// chunked: the streamer frames HTTP chunks itself (hijacked connection).
	chunked bool
	// inStreamErr renders the dialect's in-stream error for a mid-stream fault with a status.
	inStreamErr func() []byte
}

// emit writes one event; it reports false when the stream must stop (client gone, server closed,
// or the fault's ResetAfterChunks reached).
func (st *streamer) emit(ev []byte) bool {
	if st.n > 0 && !st.s.sleep(st.s.opts.ChunkDelay) {
		return false
	}
	if !st.write(ev) {
		return false
	}
	st.n++
	if st.f.ResetAfterChunks > 0 && st.n >= st.f.ResetAfterChunks {
		if hasFaultStatus(st.f) && st.inStreamErr != nil {
			st.write(st.inStreamErr())
			return false
		}
		// A clean close (FIN) right after the flush, not a reset: an RST would make the client's
		// kernel discard the events already sent. The client sees a chunked body cut short.
		_ = st.conn.Close()
		return false
	}
	return true
}

func (st *streamer) write(ev []byte) bool {
	if st.chunked {
		var hdr [20]byte
		h := strconv.AppendInt(hdr[:0], int64(len(ev)), 16)
		h = append(h, '\r', '\n')
		if _, err := st.w.Write(h); err != nil {
			return false
		}
	}
	if _, err := st.w.Write(ev); err != nil {
		return false
	}
	if st.chunked {
		if _, err := st.w.WriteString("\r\n"); err != nil {
			return false
		}
	}
	return st.w.Flush() == nil
}

// stream sends the response headers already set on ctx and then the events body emits.
//
// Normally the body runs in fasthttp's stream writer. That writer feeds fasthttp through an
// in-process pipe, so a flush does not mean the bytes reached the socket; a fault that cuts the
// stream after N events therefore takes over the connection instead (hijack, no fasthttp
// response), writes the status line, headers and HTTP chunks itself and closes the socket right
// after the N-th flush. The connection is marked "Connection: close" in that case.
func (s *Server) stream(ctx *fasthttp.RequestCtx, f Fault, inStreamErr func() []byte, body func(sw *streamer)) {
	if f.ResetAfterChunks > 0 && !hasFaultStatus(f) {
		ctx.Response.Header.SetContentLength(-1)
		ctx.Response.SetConnectionClose()
		hdr := append([]byte(nil), ctx.Response.Header.Header()...)
		ctx.HijackSetNoResponse(true)
		done := s.handOff(ctx)
		ctx.Hijack(func(c net.Conn) {
			defer done()
			w := bufio.NewWriter(c)
			if _, err := w.Write(hdr); err != nil {
				return
			}
			sw := &streamer{s: s, w: w, conn: c, f: f, chunked: true, inStreamErr: inStreamErr}
			body(sw)
			if sw.f.ResetAfterChunks > sw.n { // the stream ended before the cut: finish it properly
				_, _ = w.WriteString("0\r\n\r\n")
				_ = w.Flush()
			}
		})
		return
	}
	conn := ctx.Conn()
	done := s.handOff(ctx)
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer done()
		body(&streamer{s: s, w: w, conn: conn, f: f, inStreamErr: inStreamErr})
	})
}

func sseErrorEvent(f Fault) func() []byte {
	return func() []byte {
		b := append([]byte("data: "), openAIErrorJSON(f)...)
		return append(b, "\n\n"...)
	}
}

// truncated applies Fault.TruncateBody to a whole JSON answer: its first half.
func truncated(body []byte, f Fault) []byte {
	if f.TruncateBody {
		return body[:len(body)/2]
	}
	return body
}

// serveChat answers a parsed chat request in dialect st.
func (s *Server) serveChat(ctx *fasthttp.RequestCtx, st style, r *genReq, model string, f Fault) {
	a := s.makeAnswer(r)
	id := chatID()
	created := time.Now().Unix()
	if !r.stream {
		ctx.SetStatusCode(200)
		ctx.SetContentType("application/json")
		ctx.SetBody(truncated(chatJSON(st, id, model, created, r, &a), f))
		return
	}
	c := &chunker{st: st, id: id, model: model, created: created, includeUsage: r.includeUsage}
	prompt := r.promptTokens()
	setSSE(ctx)
	errEvent := sseErrorEvent(f)
	if st == styleVertex {
		errEvent = func() []byte {
			status, rpc, msg := vertexFault(f)
			b := append([]byte("data: "), googleErrorJSON(status, rpc, msg, f.RetryAfter)...)
			return append(b, "\n\n"...)
		}
	}
	s.stream(ctx, f, errEvent, func(sw *streamer) {
		b := make([]byte, 0, 1024)
		if st == styleAzure {
			b = append(b, `data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":`...)
			b = append(b, azurePromptFilter...)
			b = append(b, "}\n\n"...)
			if !sw.emit(b) {
				return
			}
		}
		if a.tool != nil {
			d := append([]byte(nil), `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":`...)
			d = appendJSONString(d, a.callID)
			d = append(d, `,"type":"function","function":{"name":`...)
			d = appendJSONString(d, a.tool.name)
			d = append(d, `,"arguments":""}}],"refusal":null}`...)
			if !sw.emit(c.event(b[:0], string(d), "", "{}")) {
				return
			}
			for _, frag := range a.pieces {
				d = append(d[:0], `{"tool_calls":[{"index":0,"function":{"arguments":`...)
				d = appendJSONString(d, frag)
				d = append(d, "}}]}"...)
				if !sw.emit(c.event(b[:0], string(d), "", azureChunkFilter)) {
					return
				}
			}
		} else {
			if !sw.emit(c.event(b[:0], `{"role":"assistant","content":"","refusal":null}`, "", "{}")) {
				return
			}
			d := make([]byte, 0, 64)
			for _, p := range a.pieces {
				d = append(d[:0], `{"content":`...)
				d = appendJSONString(d, p)
				d = append(d, '}')
				if !sw.emit(c.event(b[:0], string(d), "", azureChunkFilter)) {
					return
				}
			}
		}
		if !sw.emit(c.event(b[:0], "{}", a.finish, "{}")) {
			return
		}
		if r.includeUsage {
			if !sw.emit(c.usageEvent(b[:0], prompt, a.completionTokens())) {
				return
			}
		}
		sw.emit(append(b[:0], "data: [DONE]\n\n"...))
	})
}

func setSSE(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(200)
	ctx.SetContentType("text/event-stream; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
}
