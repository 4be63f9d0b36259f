package mockcloud

import (
	"bytes"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// This file is AWS Bedrock (§3): Converse and ConverseStream under /model/{modelId}/, the
// OpenAI-compatible /openai/v1/chat/completions, SigV4 or Bearer auth (sigv4.go), restJson1
// error responses with x-amzn-ErrorType, and the binary event stream framed by aws-sdk-go-v2's
// own eventstream encoder.

const coralBedrock = "com.amazon.bedrock"

func (s *Server) handleBedrock(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("x-amzn-RequestId", uuid4())
	uri := string(ctx.Request.Header.RequestURI())
	rawPath, _, _ := strings.Cut(uri, "?")
	post := ctx.IsPost()

	var (
		modelID string
		op      string
	)
	service := "bedrock"
	switch {
	case post && rawPath == "/openai/v1/chat/completions":
		op = "openai"
	case post && (rawPath == "/openai/v1/responses" || rawPath == "/v1/responses"):
		// Bedrock Mantle (bedrock-mantle.{region}.api.aws), served by the same mock: its own
		// SigV4 service name, OpenAI's Responses API.
		op, service = "mantle", "bedrock-mantle"
	case post && strings.HasPrefix(rawPath, "/model/"):
		seg := strings.Split(strings.TrimPrefix(rawPath, "/model/"), "/")
		if len(seg) != 2 || (seg[1] != "converse" && seg[1] != "converse-stream") {
			writeAWSError(ctx, &awsErr{code: "UnknownOperationException", status: 404, msg: "Unknown operation", coral: coralService})
			return
		}
		id, err := url.PathUnescape(seg[0])
		if err != nil || id == "" {
			writeAWSError(ctx, &awsErr{code: "ValidationException", status: 400, msg: "The provided model identifier is invalid."})
			return
		}
		modelID, op = id, seg[1]
	default:
		writeAWSError(ctx, &awsErr{code: "UnknownOperationException", status: 404, msg: "Unknown operation", coral: coralService})
		return
	}
	s.record(ctx)
	if e := s.bedrock.verify(ctx, service); e != nil {
		writeAWSError(ctx, e)
		return
	}
	f, ok := s.admit(ctx)
	if !ok {
		return
	}
	streaming := op == "converse-stream" || ((op == "openai" || op == "mantle") && isStreamBody(ctx.PostBody()))
	if hasFaultStatus(f) && !(f.ResetAfterChunks > 0 && streaming) {
		if op == "openai" || op == "mantle" {
			writeOpenAIFault(ctx, f)
		} else {
			writeAWSError(ctx, bedrockFault(f))
		}
		return
	}
	if op == "openai" {
		s.serveOpenAIShaped(ctx, styleBedrockOpenAI, epChat, "", true, f)
		return
	}
	if op == "mantle" {
		s.serveOpenAIShaped(ctx, styleBedrockOpenAI, epResponses, "", true, f)
		return
	}
	r, err := parseConverse(ctx.PostBody())
	if err != nil {
		writeAWSError(ctx, &awsErr{code: "ValidationException", status: 400, msg: err.Error()})
		return
	}
	if !s.serves(modelID) {
		writeAWSError(ctx, &awsErr{code: "ValidationException", status: 400, msg: "The provided model identifier is invalid."})
		return
	}
	if op == "converse" {
		s.serveConverse(ctx, r, f)
		return
	}
	s.serveConverseStream(ctx, r, f)
}

// writeAWSError writes a restJson1 error: x-amzn-ErrorType header and {"message":…} body (§3.6).
func writeAWSError(ctx *fasthttp.RequestCtx, e *awsErr) {
	coral := e.coral
	if coral == "" {
		coral = coralBedrock
	}
	ctx.Response.Header.Set("x-amzn-ErrorType", e.code+":http://internal.amazon.com/coral/"+coral+"/")
	b := append([]byte(nil), `{"message":`...)
	b = appendJSONString(b, e.msg)
	b = append(b, '}')
	ctx.SetStatusCode(e.status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// bedrockCodes maps Bedrock's modelled errors to status and message.
var bedrockCodes = map[string]struct {
	status int
	msg    string
}{
	"ThrottlingException":           {429, "Too many requests, please wait before trying again."},
	"ModelNotReadyException":        {429, "Model is not ready for inference. Wait and try your request again."},
	"ServiceUnavailableException":   {503, "Bedrock is unable to process your request."},
	"InternalServerException":       {500, "The server encountered an internal error while processing the request."},
	"ValidationException":           {400, "The provided request is not valid."},
	"ServiceQuotaExceededException": {400, "Your request exceeds the service quota for your account."},
	"AccessDeniedException":         {403, "You don't have access to the model with the specified model ID."},
	"ResourceNotFoundException":     {404, "The requested resource could not be found."},
	"ModelTimeoutException":         {408, "The request took too long to process. Processing time exceeded the model timeout length."},
	"ModelErrorException":           {424, "The system encountered an unexpected error during processing. Try your request again."},
	"ModelStreamErrorException":     {424, "The model returned an error while streaming."},
}

var bedrockStatusCodes = map[int]string{
	429: "ThrottlingException", 503: "ServiceUnavailableException", 500: "InternalServerException",
	400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
	408: "ModelTimeoutException", 424: "ModelErrorException",
}

// bedrockFault renders a fault as Bedrock's error: Code wins, else the status picks the code.
// Bedrock sends no Retry-After, so RetryAfter is ignored here.
func bedrockFault(f Fault) *awsErr {
	code := f.Code
	if code == "" {
		code = bedrockStatusCodes[f.Status]
		if code == "" {
			code = "InternalServerException"
		}
	}
	e := &awsErr{code: code, status: f.Status, msg: "An error occurred."}
	if c, ok := bedrockCodes[code]; ok {
		e.msg = c.msg
		if e.status == 0 {
			e.status = c.status
		}
	}
	if e.status == 0 {
		e.status = 500
	}
	return e
}

type converseError string

func (e converseError) Error() string { return string(e) }

// parseConverse reads a Converse request body (§3.2).
func parseConverse(body []byte) (*genReq, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, converseError("Malformed input request, please reformat your input and try again.")
	}
	msgs := v.GetArray("messages")
	if len(msgs) == 0 {
		return nil, converseError("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
	}
	r := &genReq{}
	for _, sys := range v.GetArray("system") {
		r.promptChars += len(sys.GetStringBytes("text"))
	}
	names := map[string]string{} // toolUseId → tool name
	for i, m := range msgs {
		role := string(m.GetStringBytes("role"))
		if i == 0 && role != "user" {
			return nil, converseError("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
		}
		var text strings.Builder
		var result *string
		resultName := ""
		for _, c := range m.GetArray("content") {
			text.Write(c.GetStringBytes("text"))
			if tu := c.Get("toolUse"); tu != nil {
				names[string(tu.GetStringBytes("toolUseId"))] = string(tu.GetStringBytes("name"))
			}
			if tr := c.Get("toolResult"); tr != nil {
				var out strings.Builder
				for _, rc := range tr.GetArray("content") {
					out.Write(rc.GetStringBytes("text"))
					if j := rc.Get("json"); j != nil {
						out.WriteString(j.String())
					}
				}
				s := out.String()
				result, resultName = &s, names[string(tr.GetStringBytes("toolUseId"))]
			}
		}
		r.promptChars += text.Len()
		r.messages++
		if role == "user" {
			if result != nil && i == len(msgs)-1 {
				r.toolResult, r.toolName = result, resultName
			} else if result == nil {
				r.lastUser = text.String()
			}
		}
	}
	r.maxTokens = v.GetInt("inferenceConfig", "maxTokens")
	tools := v.GetArray("toolConfig", "tools")
	choice := v.Get("toolConfig", "toolChoice")
	if len(tools) > 0 && choice != nil {
		want, forced := "", false
		if choice.Get("any") != nil {
			forced = true
		} else if n := choice.GetStringBytes("tool", "name"); n != nil {
			want, forced = string(n), true
		}
		if forced {
			for _, t := range tools {
				name := string(t.GetStringBytes("toolSpec", "name"))
				if want == "" || name == want {
					r.tool = &forcedTool{name: name, args: toolArgs(t.Get("toolSpec", "inputSchema", "json"), r.lastUser)}
					break
				}
			}
		}
	}
	r.applyDirective()
	return r, nil
}

// converseStop maps the answer's finish reason to Bedrock's stopReason.
func converseStop(a *answer) string {
	switch a.finish {
	case "tool_calls":
		return "tool_use"
	case "length":
		return "max_tokens"
	}
	return "end_turn"
}

func (s *Server) serveConverse(ctx *fasthttp.RequestCtx, r *genReq, f Fault) {
	start := time.Now()
	a := s.makeAnswer(r)
	b := make([]byte, 0, 512+len(a.text))
	b = append(b, `{"output":{"message":{"role":"assistant","content":[`...)
	if a.tool != nil {
		b = append(b, `{"toolUse":{"toolUseId":`...)
		b = appendJSONString(b, toolUseID())
		b = append(b, `,"name":`...)
		b = appendJSONString(b, a.tool.name)
		b = append(b, `,"input":`...)
		b = append(b, a.tool.chatArgs()...)
		b = append(b, "}}"...)
	} else {
		b = append(b, `{"text":`...)
		b = appendJSONString(b, a.text)
		b = append(b, '}')
	}
	b = append(b, `]}},"stopReason":"`...)
	b = append(b, converseStop(&a)...)
	in, out := int64(r.promptTokens()), int64(a.completionTokens())
	b = append(b, `","usage":{"inputTokens":`...)
	b = appendInt(b, in)
	b = append(b, `,"outputTokens":`...)
	b = appendInt(b, out)
	b = append(b, `,"totalTokens":`...)
	b = appendInt(b, in+out)
	b = append(b, `},"metrics":{"latencyMs":`...)
	b = appendInt(b, time.Since(start).Milliseconds())
	b = append(b, "}}"...)
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/json")
	ctx.SetBody(truncated(b, f))
}

// padAlphabet is the source of Bedrock's "p" padding field: real payloads carry a prefix of it of
// varying length as a side-channel mitigation, and decoders must ignore it (§3.3).
const padAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomPad() string { return padAlphabet[:10+rand.IntN(30)] }

// Converse stream event payloads, keys in the alphabetical order real frames use.

func appendPad(b []byte, pad string) []byte {
	b = append(b, `"p":"`...)
	b = append(b, pad...)
	return append(b, '"')
}

func evMessageStart(pad string) []byte {
	b := append([]byte(`{`), appendPad(nil, pad)...)
	return append(b, `,"role":"assistant"}`...)
}

func evToolStart(idx int, name, id, pad string) []byte {
	b := append([]byte(`{"contentBlockIndex":`), strconv.Itoa(idx)...)
	b = append(b, ',')
	b = appendPad(b, pad)
	b = append(b, `,"start":{"toolUse":{"name":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"toolUseId":`...)
	b = appendJSONString(b, id)
	return append(b, "}}}"...)
}

func evTextDelta(idx int, text, pad string) []byte {
	b := append([]byte(`{"contentBlockIndex":`), strconv.Itoa(idx)...)
	b = append(b, `,"delta":{"text":`...)
	b = appendJSONString(b, text)
	b = append(b, "},"...)
	b = appendPad(b, pad)
	return append(b, '}')
}

func evToolDelta(idx int, frag, pad string) []byte {
	b := append([]byte(`{"contentBlockIndex":`), strconv.Itoa(idx)...)
	b = append(b, `,"delta":{"toolUse":{"input":`...)
	b = appendJSONString(b, frag)
	b = append(b, "}},"...)
	b = appendPad(b, pad)
	return append(b, '}')
}

func evBlockStop(idx int, pad string) []byte {
	b := append([]byte(`{"contentBlockIndex":`), strconv.Itoa(idx)...)
	b = append(b, ',')
	b = appendPad(b, pad)
	return append(b, '}')
}

func evMessageStop(reason, pad string) []byte {
	b := append([]byte(`{`), appendPad(nil, pad)...)
	b = append(b, `,"stopReason":`...)
	b = appendJSONString(b, reason)
	return append(b, '}')
}

func evMetadata(in, out, latencyMs int64, pad string) []byte {
	b := append([]byte(`{"metrics":{"latencyMs":`), strconv.FormatInt(latencyMs, 10)...)
	b = append(b, "},"...)
	b = appendPad(b, pad)
	b = append(b, `,"usage":{"inputTokens":`...)
	b = appendInt(b, in)
	b = append(b, `,"outputTokens":`...)
	b = appendInt(b, out)
	b = append(b, `,"totalTokens":`...)
	b = appendInt(b, in+out)
	return append(b, "}}"...)
}

// frameEncoder frames event-stream messages with the SDK's encoder. Not safe for concurrent use:
// one per stream. The frame returned by each method is a view into the encoder's buffer, valid
// until the next call.
type frameEncoder struct {
	enc *eventstream.Encoder
	buf bytes.Buffer
}

func newFrameEncoder() *frameEncoder { return &frameEncoder{enc: eventstream.NewEncoder()} }

// event frames an `event` message; header order as in real Bedrock frames.
func (fe *frameEncoder) event(eventType string, payload []byte) []byte {
	return fe.frame(eventstream.Headers{
		{Name: ":event-type", Value: eventstream.StringValue(eventType)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("event")},
	}, payload)
}

// exception frames an `exception` message; the type is the lowerCamel union member name.
func (fe *frameEncoder) exception(excType, msg string) []byte {
	b := append([]byte(`{"message":`), appendJSONString(nil, msg)...)
	return fe.frame(eventstream.Headers{
		{Name: ":exception-type", Value: eventstream.StringValue(excType)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("exception")},
	}, append(b, '}'))
}

func (fe *frameEncoder) frame(h eventstream.Headers, payload []byte) []byte {
	fe.buf.Reset()
	// Encode only fails when the writer fails; a bytes.Buffer does not.
	_ = fe.enc.Encode(&fe.buf, eventstream.Message{Headers: h, Payload: payload})
	return fe.buf.Bytes()
}

// lowerFirst turns "ThrottlingException" into "throttlingException", the in-stream member name.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (s *Server) serveConverseStream(ctx *fasthttp.RequestCtx, r *genReq, f Fault) {
	start := time.Now()
	a := s.makeAnswer(r)
	ctx.SetStatusCode(200)
	ctx.SetContentType("application/vnd.amazon.eventstream")
	fe := newFrameEncoder()
	inStreamErr := func() []byte {
		e := bedrockFault(f)
		return fe.exception(lowerFirst(e.code), e.msg)
	}
	s.stream(ctx, f, inStreamErr, func(sw *streamer) {
		if !sw.emit(fe.event("messageStart", evMessageStart(randomPad()))) {
			return
		}
		if a.tool != nil {
			if !sw.emit(fe.event("contentBlockStart", evToolStart(0, a.tool.name, toolUseID(), randomPad()))) {
				return
			}
			for _, frag := range a.pieces {
				if !sw.emit(fe.event("contentBlockDelta", evToolDelta(0, frag, randomPad()))) {
					return
				}
			}
		} else {
			for _, p := range a.pieces {
				if !sw.emit(fe.event("contentBlockDelta", evTextDelta(0, p, randomPad()))) {
					return
				}
			}
		}
		if !sw.emit(fe.event("contentBlockStop", evBlockStop(0, randomPad()))) {
			return
		}
		if !sw.emit(fe.event("messageStop", evMessageStop(converseStop(&a), randomPad()))) {
			return
		}
		in, out := int64(r.promptTokens()), int64(a.completionTokens())
		sw.emit(fe.event("metadata", evMetadata(in, out, time.Since(start).Milliseconds(), randomPad())))
	})
}
