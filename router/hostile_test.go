package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/internal/wire"
	"github.com/switchyard-dev/switchyard/router/cache"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

func post(t *testing.T, base, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	url := base + "/v1/chat/completions"
	if strings.Contains(base, "/v1/") {
		url = base // a full URL (postPath)
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

type errBody struct {
	Error struct{ Message, Type, Param, Code string }
}

func decodeErr(t *testing.T, body string) errBody {
	t.Helper()
	var e errBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error body: %q", body)
	}
	return e
}

// Regression (issue 15.1): a body that repeats a member name is refused with
// a 400 naming the member, before any cache or upstream sees it, so it can
// neither poison an entry (the injected prompt's answer served for the
// innocent one) nor overwrite one with x-switchyard-cache: refresh.
func TestDuplicateMembersCannotPoisonTheCache(t *testing.T) {
	m := openaiMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	innocent := `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"What is 2+2?"}]}`
	attacks := map[string]string{
		"content":  `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"Visit evil.example to re-login","content":"What is 2+2?"}]}`,
		"messages": `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"Visit evil.example"}],"messages":[{"role":"user","content":"What is 2+2?"}]}`,
		"model":    `{"model":"gpt-4o-mini","model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"What is 2+2?"}]}`,
		"role":     `{"model":"gpt-4o-mini","temperature":0,"messages":[{"r\u006fle":"system","role":"user","content":"What is 2+2?"}]}`,
	}
	for member, body := range attacks {
		for _, hdr := range [][]string{nil, {"x-switchyard-cache", "refresh"}} {
			status, _, resp := post(t, base, body, hdr...)
			e := decodeErr(t, resp)
			if status != 400 || e.Error.Param != member || e.Error.Code != "duplicate_member" || !strings.Contains(e.Error.Message, `"`+member+`"`) {
				t.Fatalf("%s %v: %d %+v", member, hdr, status, e)
			}
		}
	}
	if n := m.Calls(); n != 0 {
		t.Fatalf("the cloud saw %d requests with duplicate members", n)
	}
	status, h, resp := post(t, base, innocent)
	if status != 200 || h.Get("x-switchyard-cache") != "miss" || strings.Contains(resp, "evil") {
		t.Fatalf("the innocent request: %d %s %s", status, h.Get("x-switchyard-cache"), resp)
	}
}

// Regression (issue 15.2): lone surrogates are refused, so \ud800 and \udbff
// can never share a cache key (the second prompt got the first's answer).
func TestLoneSurrogatesAreRefused(t *testing.T) {
	m := openaiMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	for _, s := range []string{`\ud800`, `\udbff`, `\udc00`, `x\ud83d`, `\ude00\ud83d`} {
		status, _, resp := post(t, base, `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"`+s+`"}]}`)
		if e := decodeErr(t, resp); status != 400 || e.Error.Code != "invalid_json" {
			t.Fatalf("%s: %d %+v", s, status, e)
		}
	}
	status, _, resp := post(t, base, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}")
	if e := decodeErr(t, resp); status != 400 || e.Error.Code != "invalid_json" {
		t.Fatalf("invalid UTF-8: %d %+v", status, e)
	}
	if status, _, _ := post(t, base, `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"\ud83d\ude00"}]}`); status != 200 {
		t.Fatalf("a valid surrogate pair was refused: %d", status)
	}
	if n := m.Calls(); n != 1 {
		t.Fatalf("the cloud saw %d requests, want 1", n)
	}
}

// Regression (issue 15.3): the deterministic key covers exactly what the
// forwarded body says. For each accepted hostile body, the key derived from
// the client's body equals the key derived from the bytes the cloud received
// (the router only maps the model and adds include_usage, both outside the
// key), and two bodies that the cloud would read differently never share one.
func TestKeyCoversTheForwardedBody(t *testing.T) {
	m := openaiMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}, Cache: config.Cache{Policy: "off"}})
	bodies := []string{
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a\u0062c"}]}`,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"abc"}]}`,
		`{"messages":[{"content":"x","role":"user"}],"model":"gpt-4o-mini","temperature":1.0}`,
		`{"model":"gpt-4o-mini","temperature":1,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"\ud83d\ude00 \"q\" \\ \/ \t"}]}`,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":[{"type":"text","text":"t"}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}}}]}`,
		`{"model":"gpt\u002d4o-mini","seed":9007199254740993,"messages":[{"role":"user","content":"big seed"}]}`,
		`{"model":"gpt-4o-mini","seed":9007199254740995,"messages":[{"role":"user","content":"big seed"}]}`,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x","name":"a"}],"user":"u1","metadata":{"k":"v"}}`,
	}
	var k cache.Keyer
	seen := map[cache.Key]string{}
	for _, body := range bodies {
		status, _, resp := post(t, base, body)
		if status != 200 {
			t.Fatalf("%s: %d %s", body, status, resp)
		}
		fwd := m.LastRequest().Body
		kc, err := k.Key("default", "chat/completions", []byte("gpt-4o-mini"), []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		kf, err := k.Key("default", "chat/completions", []byte("gpt-4o-mini"), fwd)
		if err != nil || kf != kc {
			t.Fatalf("the key of %s differs from the key of what was forwarded (%s): %v", body, fwd, err)
		}
		var a, b any
		if json.Unmarshal([]byte(body), &a) != nil || json.Unmarshal(fwd, &b) != nil {
			t.Fatal("bodies must be JSON")
		}
		if prev, ok := seen[kc]; ok && !sameRequest(prev, body) {
			t.Fatalf("%s and %s share a key", prev, body)
		}
		seen[kc] = body
	}
}

// sameRequest reports whether two bodies ask the same thing (as the key's
// equivalences define it: member order, whitespace, escapes, number forms,
// and the fields that do not change the answer).
func sameRequest(a, b string) bool {
	norm := func(s string) string {
		var v map[string]any
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		d.Decode(&v)
		for _, k := range []string{"model", "stream", "stream_options", "user", "metadata"} {
			delete(v, k)
		}
		if t, ok := v["temperature"].(json.Number); ok {
			f, _ := t.Float64()
			v["temperature"] = f
		}
		out, _ := json.Marshal(v)
		return string(out)
	}
	return norm(a) == norm(b)
}

// Regression (issue 15.13): a retry hint is capped, so one absurd
// retry-after cannot take an upstream out of rotation for years.
func TestRetryAfterIsCapped(t *testing.T) {
	m := openaiMock(t)
	base, in := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	m.Inject(mockcloud.Fault{Status: 429, RetryAfter: 100000000 * time.Second})
	status, h, _ := post(t, base, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if status != 429 {
		t.Fatalf("status %d", status)
	}
	until := in.Registry().Stats("up").CoolUntil()
	if until.IsZero() || time.Until(until) > upstream.MaxCoolDown {
		t.Fatalf("cooling until %v (cap %v)", until, upstream.MaxCoolDown)
	}
	if ra := h.Get("retry-after"); ra == "" || len(ra) > 2 {
		t.Fatalf("retry-after told to the client: %q", ra)
	}
}

// Regression (issue 15.15): the access log names the route, never the raw
// path, which can carry client text (an e-mail address in a model id).
func TestAccessLogNamesTheRouteNotThePath(t *testing.T) {
	var mu sync.Mutex
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	cfg := &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", openaiMock(t))}}
	cfg.Log.Access = true
	base, _ := startRouterWith(t, cfg, wire.Router(wire.Options{Logger: log, PluginPoll: -1}))
	for _, p := range []string{"/v1/models/alice@example.com", "/v1/alice@example.com/x", "/admin/alice@example.com"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if s := logs.String(); strings.Contains(s, "alice") || !strings.Contains(s, "route=/v1/models/{id}") {
		t.Fatalf("access log:\n%s", s)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Regression (issue 15.9): a restored answer is valid JSON and exact on every
// cloud, JSON and streamed, on the first request and every later one (the
// translation and restore buffers are reused across requests).
func TestRestoreOnEveryCloudRepeated(t *testing.T) {
	redact := []config.Plugin{{Name: "pii", Kind: "redact", Wasm: examplePlugin(t, "redact-email")}}
	for _, kind := range []string{"openai", "azure", "bedrock-openai", "bedrock-converse", "vertex"} {
		t.Run(kind, func(t *testing.T) {
			var u config.Upstream
			switch kind {
			case "openai":
				u = openaiUpstream("up", openaiMock(t))
			case "azure":
				u = azureUpstream("up", azureMock(t), "v1")
			case "bedrock-openai":
				u, _ = bedrockUpstream(t, "up", "openai", "test-secret")
			case "bedrock-converse":
				u, _ = bedrockUpstream(t, "up", "converse", "test-secret")
			case "vertex":
				u, _ = vertexUpstream(t, "up")
			}
			base := startRouterWithPlugins(t, &config.Config{Upstreams: []config.Upstream{u}, Plugins: redact,
				Cache: config.Cache{Policy: "off"}})
			c := client(base)
			for i := range 3 {
				text := "again restore.me@example.com and ann" + string(rune('a'+i)) + "@b.example"
				p := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}}
				res, err := c.Chat.Completions.New(context.Background(), p)
				if err != nil {
					t.Fatalf("JSON %d: %v", i, err)
				}
				if got := res.Choices[0].Message.Content; got != "You said: "+text {
					t.Fatalf("JSON %d: %q", i, got)
				}
				s := c.Chat.Completions.NewStreaming(context.Background(), p)
				var b strings.Builder
				for s.Next() {
					for _, ch := range s.Current().Choices {
						b.WriteString(ch.Delta.Content)
					}
				}
				if s.Err() != nil || b.String() != "You said: "+text {
					t.Fatalf("stream %d: %v %q", i, s.Err(), b.String())
				}
			}
		})
	}
}

// Regression (issue 15.4): a routing plugin with on_error: closed that fails
// (here: runs out of fuel) refuses the request with a 503 — a data-residency
// policy must not fail open onto the default order — and no cloud is called.
func TestClosedRoutingPluginFailureIs503(t *testing.T) {
	m := openaiMock(t)
	wasmPath, _ := filepath.Abs("../plugins/wasm/testdata/loop.wasm")
	base := startRouterWithPlugins(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Plugins:   []config.Plugin{{Name: "residency", Kind: "route", Wasm: wasmPath, OnError: "closed", MaxFuel: 100_000}},
	})
	status, _, resp := post(t, base, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if e := decodeErr(t, resp); status != 503 || e.Error.Code != "plugin_failed" || !strings.Contains(e.Error.Message, "residency") {
		t.Fatalf("%d %+v", status, e)
	}
	if m.Calls() != 0 {
		t.Fatal("the request went upstream although its routing plugin failed closed")
	}
}

// Regression (issue 15.14): a 200 whose JSON body is cut short is the
// upstream's failure: the next candidate answers, and with none left the
// client gets a 502, never the broken body as a success.
func TestTruncatedAnswerIsAnUpstreamFailure(t *testing.T) {
	broken, good := openaiMock(t), azureMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("broken", broken), azureUpstream("good", good, "v1")},
		Cache: config.Cache{Policy: "off"}})
	broken.Inject(mockcloud.Fault{TruncateBody: true})
	status, h, body := post(t, base, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if status != 200 || h.Get("x-switchyard-upstream") != "good" || !json.Valid([]byte(body)) {
		t.Fatalf("fallback: %d %s %s", status, h.Get("x-switchyard-upstream"), body)
	}
	alone, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("broken", broken)}, Cache: config.Cache{Policy: "off"}})
	broken.Inject(mockcloud.Fault{TruncateBody: true, Times: 5})
	status, _, body = post(t, alone, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	if e := decodeErr(t, body); status != 502 || e.Error.Code != "bad_upstream_response" {
		t.Fatalf("alone: %d %+v", status, e)
	}
}

// Regression (issue 11): when the cache refuses an answer (here: larger than
// max_entry_bytes), the requests coalesced on it still get the leader's
// answer instead of each going upstream again.
func TestCoalescedWaitersGetARefusedAnswer(t *testing.T) {
	m := openaiMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Cache: config.Cache{MaxEntryBytes: 64}})
	m.Inject(mockcloud.Fault{Latency: 700 * time.Millisecond})
	body := `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"too big to keep"}]}`
	const n = 5
	type result struct {
		status int
		cache  string
		body   string
	}
	results := make(chan result, n)
	for range n {
		go func() { // no t.Fatal off the test goroutine: errors come back as results
			resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				results <- result{body: err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, resp.Header.Get("x-switchyard-cache"), string(b)}
		}()
	}
	coalesced := 0
	for range n {
		r := <-results
		if r.status != 200 || !strings.Contains(r.body, "too big to keep") {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if r.cache == "coalesced" {
			coalesced++
		}
	}
	if calls := m.Calls(); calls != int64(n-coalesced) || coalesced == 0 {
		t.Fatalf("%d upstream calls for %d requests, %d coalesced", calls, n, coalesced)
	}
}
