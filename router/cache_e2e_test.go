package router_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

func deterministicParams(text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Temperature: openai.Float(0),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}}
}

func consume(t *testing.T, c openai.Client, p openai.ChatCompletionNewParams, opts ...option.RequestOption) (text string, usage int64) {
	t.Helper()
	s := c.Chat.Completions.NewStreaming(context.Background(), p, opts...)
	var b strings.Builder
	for s.Next() {
		ch := s.Current()
		for _, c := range ch.Choices {
			b.WriteString(c.Delta.Content)
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage.TotalTokens
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String(), usage
}

// A temperature-0 request misses then hits, and a stored answer serves the
// other mode too: JSON → stream and stream → JSON, read by openai-go.
func TestCacheMissThenHitBothModes(t *testing.T) {
	m := openaiMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	c := client(base)

	var raw *http.Response
	res, err := c.Chat.Completions.New(context.Background(), deterministicParams("json first"), option.WithResponseInto(&raw))
	if err != nil || raw.Header.Get("x-switchyard-cache") != "miss" {
		t.Fatalf("first: %v %v", err, raw.Header)
	}
	res2, err := c.Chat.Completions.New(context.Background(), deterministicParams("json first"), option.WithResponseInto(&raw))
	if err != nil || raw.Header.Get("x-switchyard-cache") != "hit" || raw.Header.Get("Age") == "" {
		t.Fatalf("second: %v %v", err, raw.Header)
	}
	if res2.Choices[0].Message.Content != res.Choices[0].Message.Content || res2.Usage.TotalTokens != res.Usage.TotalTokens {
		t.Fatalf("hit differs: %+v vs %+v", res2, res)
	}
	// JSON stored → streamed hit, with usage when asked for.
	p := deterministicParams("json first")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	text, usage := consume(t, c, p, option.WithResponseInto(&raw))
	if raw.Header.Get("x-switchyard-cache") != "hit" || text != "You said: json first" || usage != res.Usage.TotalTokens {
		t.Fatalf("stream hit: %q usage %d %v", text, usage, raw.Header)
	}
	// Stream stored → JSON hit.
	text, _ = consume(t, c, deterministicParams("stream first"), option.WithResponseInto(&raw))
	if raw.Header.Get("x-switchyard-cache") != "miss" || text != "You said: stream first" {
		t.Fatalf("stream miss: %q %v", text, raw.Header)
	}
	res3, err := c.Chat.Completions.New(context.Background(), deterministicParams("stream first"), option.WithResponseInto(&raw))
	if err != nil || raw.Header.Get("x-switchyard-cache") != "hit" || res3.Choices[0].Message.Content != "You said: stream first" ||
		res3.Choices[0].FinishReason != "stop" || res3.Usage.TotalTokens == 0 {
		t.Fatalf("json hit from stream: %v %+v", err, res3)
	}
	if m.Calls() != 2 {
		t.Fatalf("upstream calls %d, want 2", m.Calls())
	}
	// Sampling requests are not cached.
	hot := deterministicParams("json first")
	hot.Temperature = openai.Float(0.8)
	if _, err := c.Chat.Completions.New(context.Background(), hot, option.WithResponseInto(&raw)); err != nil || raw.Header.Get("x-switchyard-cache") != "bypass" {
		t.Fatalf("sampling: %v %v", err, raw.Header)
	}
}

// 100 concurrent identical cacheable requests make exactly one upstream call.
func TestCacheCoalescing(t *testing.T) {
	m := openaiMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	m.Inject(mockcloud.Fault{Latency: 500 * time.Millisecond})
	body := `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"together"}]}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	how := map[string]int{}
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := body
			if i%2 == 1 { // half stream: they get the same answer in their own mode
				b = strings.Replace(body, `"temperature":0`, `"temperature":0,"stream":true`, 1)
			}
			resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(b))
			if err != nil {
				t.Error(err)
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(out), "together") {
				t.Errorf("%d %s", resp.StatusCode, out)
			}
			mu.Lock()
			how[resp.Header.Get("x-switchyard-cache")]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if m.Calls() != 1 {
		t.Fatalf("upstream calls %d, want 1 (%v)", m.Calls(), how)
	}
	if how["miss"] != 1 || how["coalesced"]+how["hit"] != 99 {
		t.Fatalf("cache outcomes %v", how)
	}
}

// Request controls: only-if-cached answers 504 on a miss; bypass and no-store
// neither read nor write; refresh re-fetches and stores.
func TestCacheControls(t *testing.T) {
	m := openaiMock(t)
	base, in := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Admin: config.Admin{Listen: "127.0.0.1:0", Token: "admin-secret"}})
	post := func(hdr, val string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"ctl"}]}`))
		req.Header.Set("Content-Type", "application/json")
		if hdr != "" {
			req.Header.Set(hdr, val)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 504 {
			checkErrorBody(t, resp.StatusCode, b, 504, "")
		}
		return resp.StatusCode, resp.Header.Get("x-switchyard-cache")
	}
	steps := []struct {
		hdr, val   string
		status     int
		how        string
		totalCalls int64
	}{
		{"x-switchyard-cache", "only-if-cached", 504, "miss", 0},
		{"x-switchyard-cache", "bypass", 200, "bypass", 1},
		{"Cache-Control", "no-store", 200, "bypass", 2},
		{"", "", 200, "miss", 3},
		{"", "", 200, "hit", 3},
		{"x-switchyard-cache", "only-if-cached", 200, "hit", 3},
		{"x-switchyard-cache", "refresh", 200, "refresh", 4},
		{"Cache-Control", "no-cache", 200, "miss", 5},
		{"", "", 200, "hit", 5},
	}
	for i, st := range steps {
		status, how := post(st.hdr, st.val)
		if status != st.status || how != st.how || m.Calls() != st.totalCalls {
			t.Fatalf("step %d (%s: %s): status %d cache %q calls %d", i, st.hdr, st.val, status, how, m.Calls())
		}
	}
	// Admin purge, on the admin listener only: the public one does not
	// know the path; a wrong token is refused; then the entry is gone.
	for _, b := range []string{base, "http://" + in.AdminAddr()} {
		req, _ := http.NewRequest("POST", b+"/admin/cache/purge?model=gpt-4o-mini", nil)
		req.Header.Set("Authorization", "Bearer admin-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{true: 404, false: 200}[b == base]; resp.StatusCode != want {
			t.Fatalf("purge on %s: %d, want %d", b, resp.StatusCode, want)
		}
	}
	if status, how := post("", ""); status != 200 || how != "miss" {
		t.Fatalf("after purge: %d %q", status, how)
	}
	if status, how := post("", ""); status != 200 || how != "hit" {
		t.Fatalf("after refill: %d %q", status, how)
	}
	for token, want := range map[string]int{"nope": 401, "": 401, "admin-secret": 200} {
		req, _ := http.NewRequest("POST", "http://"+in.AdminAddr()+"/admin/cache/purge?model=gpt-4o-mini", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("purge with %q: %v %d", token, err, resp.StatusCode)
		}
		resp.Body.Close()
	}
	if status, how := post("", ""); status != 200 || how != "miss" {
		t.Fatalf("after purge: %d %q", status, how)
	}
}

// Redaction runs before the cache: two prompts that differ only in an e-mail
// address share one entry, and each client gets its own address back.
func TestCacheAfterRedaction(t *testing.T) {
	m := openaiMock(t)
	base := startRouterWithPlugins(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Plugins: []config.Plugin{{Name: "pii", Kind: "redact", Wasm: examplePlugin(t, "redact-email"),
			Config: map[string]any{"entities": []any{"email"}}}},
	})
	c := client(base)
	var raw *http.Response
	a, err := c.Chat.Completions.New(context.Background(), deterministicParams("mail ann@a.example"), option.WithResponseInto(&raw))
	if err != nil || raw.Header.Get("x-switchyard-cache") != "miss" {
		t.Fatal(err, raw.Header)
	}
	text, _ := consume(t, c, deterministicParams("mail bob@b.example"), option.WithResponseInto(&raw))
	if raw.Header.Get("x-switchyard-cache") != "hit" {
		t.Fatalf("second prompt did not share the entry: %v", raw.Header)
	}
	if a.Choices[0].Message.Content != "You said: mail ann@a.example" || text != "You said: mail bob@b.example" {
		t.Fatalf("got %q and %q", a.Choices[0].Message.Content, text)
	}
	if m.Calls() != 1 {
		t.Fatalf("calls %d", m.Calls())
	}
}
