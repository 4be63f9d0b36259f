package limits

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/valyala/fasthttp"
)

// This file drives the package the way the core will — identify, reserve
// after parse, headers on every answer, Observe while streaming, Settle at
// the end — behind a loopback fasthttp server, and reads the answers with
// the official OpenAI client: the 429 bodies and headers must be what it
// understands. The handler answers like a cloud would (fixed usage); it
// stands in for the router core, which the lead wires separately.

type edge struct {
	keys  *Keys
	rules atomic.Pointer[Rules]
	// streamGate, when set, holds every stream open after its first events
	// until it is closed; streamSent is told when they are out.
	streamGate chan struct{}
	streamSent chan struct{}
	price      Price
}

const (
	estIn, estOut   = 10, 20 // what the core would estimate for the test prompt
	jsonIn, jsonOut = 10, 5  // what the "cloud" uses for a JSON answer
	streamOut       = 60     // and for a stream: three times the output estimate
)

func (e *edge) handle(ctx *fasthttp.RequestCtx) {
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const bearer = "Bearer "
	if len(auth) <= len(bearer) {
		ctx.Error(`{"error":{"message":"no key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, 401)
		return
	}
	k, err := e.keys.Lookup(auth[len(bearer):])
	if err != nil {
		ctx.Error(`{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, 401)
		return
	}
	t := e.rules.Load().Tenant(k.Tenant())
	res, d := t.Reserve(k, Estimate{InputTokens: estIn, OutputTokens: estOut})
	d.WriteHeaders(&ctx.Response.Header)
	if !d.Allowed() {
		ctx.SetStatusCode(d.Status())
		ctx.SetContentType("application/json")
		ctx.SetBody(d.AppendErrorBody(nil))
		return
	}
	if !bytesContains(ctx.PostBody(), `"stream":true`) {
		ctx.SetContentType("application/json")
		fmt.Fprintf(ctx, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-5","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`, jsonIn, jsonOut, jsonIn+jsonOut)
		res.Settle(Usage{InputTokens: jsonIn, OutputTokens: jsonOut, Price: e.price})
		return
	}
	ctx.SetContentType("text/event-stream")
	gate, sent := e.streamGate, e.streamSent
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		out := int64(0)
		for i := range 3 {
			out += streamOut / 3
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-5\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d\"},\"finish_reason\":null}]}\n\n", i)
			w.Flush()
			res.Observe(estIn, out) // the core counts output as it relays it
		}
		if gate != nil {
			sent <- struct{}{}
			<-gate
		}
		fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-5\",\"choices\":[],\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n", estIn, out, estIn+out)
		w.Flush()
		res.Settle(Usage{InputTokens: estIn, OutputTokens: out, Price: e.price})
	})
}

func bytesContains(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

func startEdge(t *testing.T, e *edge) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: e.handle, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/v1/"
}

func sdk(base, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base), option.WithAPIKey(key), option.WithMaxRetries(0),
		option.WithRequestTimeout(10*time.Second))
}

var prompt = openai.ChatCompletionNewParams{Model: "gpt-5", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}

func TestOpenAIClientSeesLimits(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	e := &edge{keys: openKeys(t, tempKeyFile(t), clock)}
	e.rules.Store(mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{RequestsPerMinute: 3, TokensPerMinute: 1000}}))
	_, secret, _ := e.keys.Create(KeySpec{Tenant: "acme"})
	c := sdk(startEdge(t, e), secret)
	bg := context.Background()

	var resp *http.Response
	if _, err := c.Chat.Completions.New(bg, prompt, option.WithResponseInto(&resp)); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "2", "x-ratelimit-reset-requests": "20s",
		"x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "970",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("allowed answer: %s = %q, want %q", k, got, want)
		}
	}
	c.Chat.Completions.New(bg, prompt)
	c.Chat.Completions.New(bg, prompt)
	_, err := c.Chat.Completions.New(bg, prompt)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("4th request: err = %v, want a 429 API error", err)
	}
	if apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" || apiErr.Type != "requests" {
		t.Fatalf("429: status %d code %q type %q", apiErr.StatusCode, apiErr.Code, apiErr.Type)
	}
	if h := apiErr.Response.Header; h.Get("retry-after") != "20" || h.Get("retry-after-ms") != "20000" || h.Get("x-ratelimit-remaining-requests") != "0" {
		t.Fatalf("429 headers %v", h)
	}

	// An unknown key is a 401 the client reports as such.
	bad := sdk(startEdge(t, e), "sk-sy-nope")
	_, err = bad.Chat.Completions.New(bg, prompt)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestOpenAIClientStreamBlocksNext: a stream that has used three times its
// output estimate blocks the next request while it is still open.
func TestOpenAIClientStreamBlocksNext(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	e := &edge{keys: openKeys(t, tempKeyFile(t), clock), streamGate: make(chan struct{}), streamSent: make(chan struct{}, 1)}
	// 90 tokens a minute: the stream's estimate (30) fits three times; its
	// real use (70) leaves less than one more estimate.
	e.rules.Store(mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{TokensPerMinute: 90}}))
	_, secret, _ := e.keys.Create(KeySpec{Tenant: "acme"})
	c := sdk(startEdge(t, e), secret)
	release := sync.OnceFunc(func() { close(e.streamGate) })
	t.Cleanup(release) // before the server's shutdown, which waits for the stream
	bg := context.Background()

	stream := c.Chat.Completions.NewStreaming(bg, prompt)
	if !stream.Next() {
		t.Fatalf("stream: %v", stream.Err())
	}
	<-e.streamSent // all three content events are out and observed
	_, err := c.Chat.Completions.New(bg, prompt)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Type != "tokens" {
		t.Fatalf("request during the stream: %v, want 429 tokens", err)
	}
	if got := apiErr.Response.Header.Get("x-ratelimit-remaining-tokens"); got != "20" {
		t.Fatalf("remaining tokens %q during the stream, want 20 (90 - 10 in - 60 out)", got)
	}
	release()
	n := 1
	for stream.Next() {
		n++
	}
	if err := stream.Err(); err != nil || n != 4 {
		t.Fatalf("stream: %d events, %v", n, err)
	}
}

// TestOpenAIClientConcurrent: 16 clients, two keys, one tenant limit, a
// stopped clock: exactly the limit gets through; the rest get OpenAI 429s.
func TestOpenAIClientConcurrent(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	e := &edge{keys: openKeys(t, tempKeyFile(t), clock), price: Price{Input: 1000, Output: 1000}}
	// Each JSON answer costs 15 tokens × 1000/M = 0.015; the key's budget of
	// 0.15 stops it after ten, the tenant's 20/min stops the rest.
	e.rules.Store(mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{RequestsPerMinute: 20}}))
	_, s1, _ := e.keys.Create(KeySpec{Tenant: "acme", Limits: Limits{DailyBudget: 0.15}})
	_, s2, _ := e.keys.Create(KeySpec{Tenant: "acme"})
	base := startEdge(t, e)
	var ok, rate, quota, other atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		c := sdk(base, []string{s1, s2}[g%2])
		wg.Go(func() {
			for range 4 {
				_, err := c.Chat.Completions.New(context.Background(), prompt)
				var apiErr *openai.Error
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &apiErr) && apiErr.Code == "rate_limit_exceeded":
					rate.Add(1)
				case errors.As(err, &apiErr) && apiErr.Code == "insufficient_quota" && apiErr.Type == "insufficient_quota":
					quota.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	// The budget is checked without a price estimate, so the key's requests
	// in flight when it ran out may pass it (8 goroutines use the key).
	if ok.Load() != 20 || other.Load() != 0 || rate.Load()+quota.Load() != 44 {
		t.Fatalf("ok %d, rate-limited %d, over budget %d, other %d", ok.Load(), rate.Load(), quota.Load(), other.Load())
	}
	if spent := e.rules.Load().Tenant("acme").Usage().Day; spent != MoneyOf(0.015*20) {
		t.Fatalf("tenant spend %v, want 20 × 0.015", spent.Units())
	}
}
