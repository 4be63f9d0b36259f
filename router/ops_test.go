package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

// do sends one request and returns the status, the body and the headers.
func do(t testing.TB, method, url, token, body string) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

func scrape(t testing.TB, url string) string {
	t.Helper()
	status, b, _ := do(t, "GET", url+"/metrics", "", "")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	return string(b)
}

// metricValue returns the value of the series whose line starts with
// prefix (name and labels exactly as exported), or -1.
func metricValue(t testing.TB, text, series string) float64 {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	return -1
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

// Counters keep counting across reloads (one registry per process, handles
// resolved again per generation), the request path reports status, model,
// upstream and token usage, and the real output passes promtool.
func TestMetricsAcrossReloadsAndPromtool(t *testing.T) {
	m := openaiMock(t)
	cfg := func(n int) *config.Config {
		u := openaiUpstream("up", m)
		u.Models[`we"ird\model`] = "gpt-4o-mini"
		c := &config.Config{Listen: "127.0.0.1:0", Upstreams: []config.Upstream{u},
			Tenants: []config.Tenant{{Name: "acme", Keys: []string{"k-acme"}}}, Cache: config.Cache{Policy: "off"},
			PoP: config.PoP{Name: fmt.Sprint("pop", n)}}
		c.ApplyDefaults()
		return c
	}
	base, in := startRouter(t, cfg(0))
	const series = `switchyard_requests_total{cache="none",endpoint="chat",model="gpt-4o-mini",status="200",tenant="acme",upstream="up"}`
	for n := 1; n <= 3; n++ {
		if status, b, _ := do(t, "POST", base+"/v1/chat/completions", "k-acme", chatBody); status != 200 {
			t.Fatalf("%d %s", status, b)
		}
		if err := in.Reload(context.Background(), cfg(n)); err != nil {
			t.Fatal(err)
		}
		text := scrape(t, base)
		if got := metricValue(t, text, series); got != float64(n) {
			t.Fatalf("after reload %d: %s = %v, want %d", n, series, got, n)
		}
		if got := metricValue(t, text, "switchyard_requests_served_total"); got != float64(n) {
			t.Fatalf("after reload %d: served %v", n, got)
		}
		if got := metricValue(t, text, `switchyard_upstream_attempts_total{result="ok",upstream="up"}`); got != float64(n) {
			t.Fatalf("after reload %d: attempts %v", n, got)
		}
		// The mock reports usage; the router counts it.
		if got := metricValue(t, text, `switchyard_tokens_total{endpoint="chat",model="gpt-4o-mini",tenant="acme",type="output",upstream="up"}`); got <= 0 {
			t.Fatalf("after reload %d: output tokens %v", n, got)
		}
	}
	// A stream records its time to first token; a Responses answer its usage.
	if status, b, _ := do(t, "POST", base+"/v1/chat/completions", "k-acme", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"s"}]}`); status != 200 {
		t.Fatalf("stream: %d %s", status, b)
	}
	if status, b, _ := do(t, "POST", base+"/v1/responses", "k-acme", `{"model":"gpt-4o-mini","input":"hello there"}`); status != 200 {
		t.Fatalf("responses: %d %s", status, b)
	}
	text0 := scrape(t, base)
	if got := metricValue(t, text0, `gen_ai_server_time_to_first_token_seconds_count{endpoint="chat",gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini",tenant="acme",upstream="up"}`); got != 1 {
		t.Fatalf("TTFT count %v", got)
	}
	if got := metricValue(t, text0, `switchyard_tokens_total{endpoint="responses",model="gpt-4o-mini",tenant="acme",type="input",upstream="up"}`); got <= 0 {
		t.Fatalf("responses input tokens %v", got)
	}
	// Label values are escaped (a quote and a backslash in a model name).
	do(t, "POST", base+"/v1/chat/completions", "k-acme", `{"model":"we\"ird\\model","messages":[{"role":"user","content":"x"}]}`)
	if !strings.Contains(scrape(t, base), `model="we\"ird\\model",status="200"`) {
		t.Fatal("escaped model label missing")
	}
	// A 401 is not a tenant's request; a 404 for an unknown model counts
	// under model "unknown", never under the client's text.
	do(t, "POST", base+"/v1/chat/completions", "k-acme", `{"model":"alice@example.com","messages":[{"role":"user","content":"x"}]}`)
	text := scrape(t, base)
	if strings.Contains(text, "alice@example.com") || strings.Contains(text, "k-acme") {
		t.Fatal("client text or a key in the metrics")
	}
	if got := metricValue(t, text, `switchyard_requests_total{cache="none",endpoint="chat",model="unknown",status="404",tenant="acme",upstream="none"}`); got != 1 {
		t.Fatalf("unknown-model 404: %v", got)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool (Debian package prometheus) is required: ", err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// otlpReceiver is a loopback OTLP/HTTP trace receiver.
type otlpReceiver struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newOTLPReceiver(t testing.TB) *otlpReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{url: "http://" + ln.Addr().String() + "/v1/traces"}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(req.Body, 16<<20))
		var ex coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &ex); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.mu.Lock()
		for _, rs := range ex.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				r.spans = append(r.spans, ss.GetSpans()...)
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

// One span per request with a child per attempt (the failed one and the
// fallback), the client's traceparent honoured, the attempt's traceparent
// forwarded upstream, GenAI attributes set, and no content anywhere.
func TestTracingThroughRouter(t *testing.T) {
	rcv := newOTLPReceiver(t)
	bad := openaiMock(t)
	bad.Inject(mockcloud.Fault{Status: 500})
	good := openaiMock(t)
	base, in := startRouter(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("bad", bad), openaiUpstream("good", good)},
		Plugins: []config.Plugin{{Name: "pii", Kind: "redact", Wasm: examplePlugin(t, "redact-email"),
			Config: map[string]any{"entities": []any{"email"}}}},
		Cache:     config.Cache{Policy: "off"},
		Telemetry: config.Telemetry{Tracing: config.Tracing{Endpoint: rcv.url, BatchTimeout: time.Hour}},
	})
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"secret prompt text"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("x-switchyard-upstream") != "good" {
		t.Fatalf("status %d upstream %q", resp.StatusCode, resp.Header.Get("x-switchyard-upstream"))
	}
	forwarded := good.LastRequest().Header.Get("traceparent")
	if !strings.HasPrefix(forwarded, "00-"+clientTrace+"-") {
		t.Fatalf("traceparent upstream %q", forwarded)
	}
	text := scrape(t, base)
	for series, want := range map[string]float64{
		`switchyard_fallbacks_total{reason="server_error",upstream="bad"}`:                                                          1,
		`switchyard_upstream_attempts_total{result="server_error",upstream="bad"}`:                                                  1,
		`switchyard_upstream_attempts_total{result="ok",upstream="good"}`:                                                           1,
		`switchyard_plugin_calls_total{hook="redact",plugin="pii"}`:                                                                 1,
		`switchyard_requests_total{cache="none",endpoint="chat",model="gpt-4o-mini",status="200",tenant="default",upstream="good"}`: 1,
	} {
		if got := metricValue(t, text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Close(ctx); err != nil { // flushes the spans
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var server, plugin *tracepb.Span
	var attempts []*tracepb.Span
	for _, s := range rcv.spans {
		if fmt.Sprintf("%x", s.GetTraceId()) != clientTrace {
			t.Fatalf("span %q in another trace", s.GetName())
		}
		raw, _ := proto.Marshal(s)
		if bytes.Contains(raw, []byte("secret prompt")) || bytes.Contains(raw, []byte("You said")) {
			t.Fatalf("span %q carries content", s.GetName())
		}
		switch s.GetKind() {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			attempts = append(attempts, s)
		case tracepb.Span_SPAN_KIND_INTERNAL:
			plugin = s
		}
	}
	if server == nil || plugin == nil || len(attempts) != 2 {
		t.Fatalf("server span %v, plugin span %v, %d attempt spans (of %d)", server != nil, plugin != nil, len(attempts), len(rcv.spans))
	}
	if !bytes.Equal(plugin.GetParentSpanId(), server.GetSpanId()) || !strings.Contains(plugin.GetName(), "pii") {
		t.Fatalf("plugin span %q is not the request's child", plugin.GetName())
	}
	a := map[string]string{}
	for _, kv := range server.GetAttributes() {
		a[kv.GetKey()] = fmt.Sprint(kv.GetValue().GetValue())
	}
	if !strings.Contains(a["gen_ai.request.model"], "gpt-4o-mini") || !strings.Contains(a["switchyard.upstream"], "good") ||
		!strings.Contains(a["gen_ai.provider.name"], "openai") || a["gen_ai.usage.output_tokens"] == "" {
		t.Fatalf("server span attributes %v", a)
	}
	for _, at := range attempts {
		if !bytes.Equal(at.GetParentSpanId(), server.GetSpanId()) {
			t.Fatal("attempt span is not a child of the request span")
		}
	}
	// The good upstream's parent is the attempt that succeeded; the other
	// attempt failed (the bad upstream's 500).
	failed := 0
	for _, at := range attempts {
		isParent := strings.Contains(forwarded, fmt.Sprintf("-%x-", at.GetSpanId()))
		isError := at.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR
		if isError {
			failed++
		}
		if isParent == isError {
			t.Fatalf("attempt span (error %v) parent of the forwarded request %v: %q", isError, isParent, forwarded)
		}
	}
	if failed != 1 {
		t.Fatalf("%d failed attempts, want 1", failed)
	}
}

// The admin API is on its own listener and needs the token; the public
// listener knows none of it; the config dump masks every secret.
func TestAdminListener(t *testing.T) {
	m := openaiMock(t)
	base, in := startRouter(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Tenants:   []config.Tenant{{Name: "acme", Keys: []string{"tenant-key-secret"}}},
		Admin:     config.Admin{Listen: "127.0.0.1:0", Token: "admin-token-secret"},
		Telemetry: config.Telemetry{Tracing: config.Tracing{Headers: map[string]string{"x-auth": "collector-secret"}}},
	})
	adm := "http://" + in.AdminAddr()
	if adm == base {
		t.Fatal("admin shares the public listener")
	}
	for _, tok := range []string{"", "admin-token-secre", "admin-token-secretX", "tenant-key-secret"} {
		if status, _, _ := do(t, "GET", adm+"/admin/upstreams", tok, ""); status != 401 {
			t.Fatalf("token %q: %d", tok, status)
		}
	}
	if status, _, _ := do(t, "GET", base+"/admin/upstreams", "admin-token-secret", ""); status != 404 {
		t.Fatalf("public listener answers /admin/: %d", status)
	}
	status, b, _ := do(t, "GET", adm+"/admin/upstreams", "admin-token-secret", "")
	if status != 200 || !strings.Contains(string(b), `"name":"up"`) {
		t.Fatalf("%d %s", status, b)
	}
	status, b, _ = do(t, "GET", adm+"/admin/config", "admin-token-secret", "")
	if status != 200 || !strings.Contains(string(b), "Upstreams") {
		t.Fatalf("config: %d %s", status, b)
	}
	for _, secret := range []string{"sk-test", "tenant-key-secret", "admin-token-secret", "collector-secret"} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("config dump shows %q", secret)
		}
	}
	if status, b, _ := do(t, "GET", adm+"/metrics", "", ""); status != 200 || !strings.Contains(string(b), "switchyard_requests_served_total") {
		t.Fatalf("admin /metrics: %d", status)
	}
}

type keyAnswer struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// A managed key is created through the admin API, used on the public
// listener, confined to its endpoints and models, rotated and revoked.
func TestManagedKeyLifecycle(t *testing.T) {
	m := openaiMock(t)
	keyFile := filepath.Join(t.TempDir(), "keys.json")
	base, in := startRouter(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Tenants: []config.Tenant{{Name: "acme", Keys: []string{"cfg-key"},
			Limits: config.TenantLimits{PerKey: config.KeyLimits{RequestsPerMinute: 3}}}},
		Admin: config.Admin{Listen: "127.0.0.1:0", Token: "tok"},
		Keys:  config.Keys{File: keyFile, ReloadInterval: -1},
	})
	adm := "http://" + in.AdminAddr()
	create := func(spec string) keyAnswer {
		status, b, _ := do(t, "POST", adm+"/admin/keys", "tok", spec)
		if status != 201 {
			t.Fatalf("create %s: %d %s", spec, status, b)
		}
		var k keyAnswer
		if err := json.Unmarshal(b, &k); err != nil || k.Secret == "" || k.ID == "" {
			t.Fatalf("create: %v %s", err, b)
		}
		return k
	}
	if status, _, _ := do(t, "POST", adm+"/admin/keys", "tok", `{"tenant":"nobody"}`); status != 404 {
		t.Fatalf("key for an unknown tenant: %d", status)
	}
	k := create(`{"tenant":"acme","name":"ci","endpoints":["/v1/chat/completions"],"models":["gpt-4o-mini"]}`)
	raw, err := os.ReadFile(keyFile)
	if err != nil || bytes.Contains(raw, []byte(k.Secret)) {
		t.Fatalf("key file: %v (secret in clear: %v)", err, bytes.Contains(raw, []byte(k.Secret)))
	}
	chat := func(secret, body string) int {
		status, _, _ := do(t, "POST", base+"/v1/chat/completions", secret, body)
		return status
	}
	if got := chat(k.Secret, chatBody); got != 200 {
		t.Fatalf("new key: %d", got)
	}
	if status, b, _ := do(t, "POST", base+"/v1/embeddings", k.Secret, `{"model":"text-embedding-3-small","input":"x"}`); status != 403 ||
		!strings.Contains(string(b), "permission_denied") {
		t.Fatalf("endpoint not allowed: %d %s", status, b)
	}
	if got := chat(k.Secret, `{"model":"text-embedding-3-small","messages":[{"role":"user","content":"x"}]}`); got != 404 {
		t.Fatalf("model not allowed: %d", got)
	}
	status, b, _ := do(t, "GET", adm+"/admin/keys?tenant=acme", "tok", "")
	if status != 200 || !strings.Contains(string(b), k.ID) || strings.Contains(string(b), k.Secret) {
		t.Fatalf("list: %d %s", status, b)
	}
	status, b, _ = do(t, "POST", adm+"/admin/keys/"+k.ID+"/rotate", "tok", "")
	var rot keyAnswer
	if status != 200 || json.Unmarshal(b, &rot) != nil || rot.Secret == "" || rot.Secret == k.Secret {
		t.Fatalf("rotate: %d %s", status, b)
	}
	if got := chat(k.Secret, chatBody); got != 401 {
		t.Fatalf("old secret after rotate: %d", got)
	}
	if got := chat(rot.Secret, chatBody); got != 200 {
		t.Fatalf("rotated secret: %d", got)
	}
	if status, _, _ := do(t, "POST", adm+"/admin/keys/"+k.ID+"/revoke", "tok", ""); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if got := chat(rot.Secret, chatBody); got != 401 {
		t.Fatalf("revoked key: %d", got)
	}
	if got := chat("cfg-key", chatBody); got != 200 {
		t.Fatalf("config key: %d", got)
	}
	// A managed key has the tenant's per-key limits; config keys do not.
	pk := create(`{"tenant":"acme"}`)
	for i := range 3 {
		if got := chat(pk.Secret, chatBody); got != 200 {
			t.Fatalf("per-key request %d: %d", i, got)
		}
	}
	status, b, _ = do(t, "POST", base+"/v1/chat/completions", pk.Secret, chatBody)
	checkCode(t, status, b, 429, "rate_limit_exceeded")
	if !strings.Contains(string(b), "on this key") {
		t.Fatalf("refusal does not name the key scope: %s", b)
	}
	for range 5 {
		if got := chat("cfg-key", chatBody); got != 200 {
			t.Fatalf("config key under per-key limits: %d", got)
		}
	}
	// A key that expires stops working.
	exp := create(fmt.Sprintf(`{"tenant":"acme","expires_at":%q}`, time.Now().Add(1500*time.Millisecond).UTC().Format(time.RFC3339Nano)))
	if got := chat(exp.Secret, chatBody); got != 200 {
		t.Fatalf("key before expiry: %d", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for chat(exp.Secret, chatBody) != 401 {
		if time.Now().After(deadline) {
			t.Fatal("expired key still works")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parallel sends n requests at once and returns their statuses and answers.
func parallel(t *testing.T, n int, send func() (int, []byte, http.Header)) ([]int, [][]byte, []http.Header) {
	statuses, bodies, headers := make([]int, n), make([][]byte, n), make([]http.Header, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], bodies[i], headers[i] = send()
		}()
	}
	close(start)
	wg.Wait()
	return statuses, bodies, headers
}

// Requests per minute hold exactly under concurrent clients, JSON and
// streams alike; refusals are OpenAI's 429 with the headers; allowed
// answers carry the headers too.
func TestRateLimitConcurrent(t *testing.T) {
	m := openaiMock(t)
	const rpm = 6
	base, _ := startRouter(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Tenants: []config.Tenant{{Name: "acme", Keys: []string{"k-acme"}, Limits: config.TenantLimits{RequestsPerMinute: rpm}},
			{Name: "other", Keys: []string{"k-other"}}},
		Cache: config.Cache{Policy: "off"},
	})
	bodies := []string{chatBody, `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`}
	statuses, answers, headers := parallel(t, 4*rpm, func() (int, []byte, http.Header) {
		return do(t, "POST", base+"/v1/chat/completions", "k-acme", bodies[time.Now().UnixNano()%2])
	})
	ok := 0
	for i, s := range statuses {
		h := headers[i]
		if h.Get("x-ratelimit-limit-requests") != strconv.Itoa(rpm) || h.Get("x-ratelimit-remaining-requests") == "" {
			t.Fatalf("answer %d (%d) without rate-limit headers: %v", i, s, h)
		}
		switch s {
		case 200:
			ok++
		case 429:
			checkCode(t, s, answers[i], 429, "rate_limit_exceeded")
			if h.Get("retry-after") == "" {
				t.Fatalf("429 without retry-after: %v", h)
			}
		default:
			t.Fatalf("status %d: %s", s, answers[i])
		}
	}
	if ok != rpm {
		t.Fatalf("%d requests allowed, want exactly %d", ok, rpm)
	}
	// Streams are refused the same way, before any event.
	status, b, _ := do(t, "POST", base+"/v1/chat/completions", "k-acme", bodies[1])
	if status != 429 || bytes.Contains(b, []byte("data:")) {
		t.Fatalf("stream over the limit: %d %s", status, b)
	}
	// The Responses API is limited by the same counters.
	status, b, h := do(t, "POST", base+"/v1/responses", "k-acme", `{"model":"gpt-4o-mini","input":"hi"}`)
	if status != 429 || h.Get("x-ratelimit-limit-requests") != strconv.Itoa(rpm) {
		t.Fatalf("responses over the limit: %d %s", status, b)
	}
	checkCode(t, status, b, 429, "rate_limit_exceeded")
	// Another tenant is not affected.
	if status, _, _ := do(t, "POST", base+"/v1/chat/completions", "k-other", chatBody); status != 200 {
		t.Fatalf("other tenant: %d", status)
	}
}

// checkCode checks an OpenAI error body and its code.
func checkCode(t *testing.T, status int, b []byte, want int, code string) {
	t.Helper()
	checkErrorBody(t, status, b, want, "")
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(b, &e); e.Error.Code != code {
		t.Fatalf("code %q, want %q: %s", e.Error.Code, code, b)
	}
}

// usageCost reads an answer's usage and returns its cost at price (per
// million tokens, input and output equal).
func usageCost(t *testing.T, b []byte, price float64) float64 {
	var a struct {
		Usage struct {
			In  float64 `json:"prompt_tokens"`
			Out float64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	in, out := a.Usage.In, a.Usage.Out
	if in == 0 || out == 0 {
		t.Fatalf("no usage in %s", b)
	}
	return (in + out) * price / 1e6
}

// A daily budget refuses with insufficient_quota once spent, and concurrent
// requests overshoot it by less than one request's estimate: each reserves
// its estimated cost at the dearest upstream's price before forwarding.
func TestBudgetConcurrent(t *testing.T) {
	m := openaiMock(t)
	const price = 1000.0 // per million tokens: a few cents a request
	up := openaiUpstream("up", m)
	up.Price = config.Price{Input: price, Output: price}
	const budget = 0.5
	base, _ := startRouter(t, &config.Config{
		Upstreams: []config.Upstream{up},
		Tenants:   []config.Tenant{{Name: "acme", Keys: []string{"k-acme"}, Limits: config.TenantLimits{DailyBudget: budget}}},
		Cache:     config.Cache{Policy: "off"},
	})
	body := `{"model":"gpt-4o-mini","max_tokens":8,"messages":[{"role":"user","content":"spend some money please"}]}`
	estimate := float64(len(body)/4+8) * price / 1e6
	var spent float64
	ok, refused := 0, 0
	// Rounds of concurrent requests until a whole round is refused: early
	// refusals are reservations (estimates) over the budget, which real,
	// smaller usage then gives back; the last ones are the budget spent.
	for round, roundRefused := 0, 0; round < 40 && roundRefused < 8; round++ {
		roundRefused = 0
		statuses, answers, _ := parallel(t, 8, func() (int, []byte, http.Header) {
			return do(t, "POST", base+"/v1/chat/completions", "k-acme", body)
		})
		for i, s := range statuses {
			switch s {
			case 200:
				ok++
				spent += usageCost(t, answers[i], price)
			case 429:
				refused++
				roundRefused++
				checkCode(t, s, answers[i], 429, "insufficient_quota")
			default:
				t.Fatalf("status %d %s", s, answers[i])
			}
		}
	}
	if refused == 0 || ok == 0 {
		t.Fatalf("allowed %d refused %d", ok, refused)
	}
	if spent > budget+estimate || spent < budget-2*estimate {
		t.Fatalf("spent %.4f of a %.2f budget: not within one estimate (%.4f)", spent, budget, estimate)
	}
	if status, b, _ := do(t, "POST", base+"/v1/chat/completions", "k-acme", body); status != 429 || !strings.Contains(string(b), "insufficient_quota") {
		t.Fatalf("after the budget: %d %s", status, b)
	}
}

// A stream that uses more tokens than its estimate counts against the next
// request at once, and tokens-per-minute hold for concurrent streams.
func TestStreamOverEstimateBlocksNext(t *testing.T) {
	m := openaiMock(t)
	const tpm = 2500
	base, _ := startRouter(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Tenants:   []config.Tenant{{Name: "acme", Keys: []string{"k-acme"}, Limits: config.TenantLimits{TokensPerMinute: tpm}}},
		Cache:     config.Cache{Policy: "off"},
	})
	// ~1000 prompt tokens estimated and used, 1024 output estimated, ~2000
	// used (the mock echoes the prompt word by word).
	long := strings.Repeat("w ", 2000)
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"` + long + `"}]}`
	status, b, h := do(t, "POST", base+"/v1/chat/completions", "k-acme", body)
	if status != 200 || !bytes.HasSuffix(bytes.TrimSpace(b), []byte("[DONE]")) {
		t.Fatalf("big stream: %d %.200s", status, b)
	}
	if rem, _ := strconv.Atoi(h.Get("x-ratelimit-remaining-tokens")); rem <= 0 || rem >= tpm {
		t.Fatalf("remaining tokens at admission %q", h.Get("x-ratelimit-remaining-tokens"))
	}
	small := `{"model":"gpt-4o-mini","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`
	status, b, h = do(t, "POST", base+"/v1/chat/completions", "k-acme", small)
	if status != 429 || !strings.Contains(string(b), `"type":"tokens"`) || h.Get("x-ratelimit-remaining-tokens") != "0" {
		t.Fatalf("request after an over-estimate stream: %d %s %v", status, b, h)
	}
	if !regexp.MustCompile(`^[0-9]+$`).MatchString(h.Get("retry-after")) {
		t.Fatalf("retry-after %q", h.Get("retry-after"))
	}
}
