package telemetry

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

func newTel(t testing.TB, cfg Config) *Telemetry {
	t.Helper()
	tel, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Close(context.Background()) })
	return tel
}

// scrape fetches /metrics through a real fasthttp server on an in-memory
// listener, the way Prometheus would.
func scrape(t testing.TB, tel *Telemetry) string {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: tel.MetricsHandler()}
	go srv.Serve(ln)
	defer srv.Shutdown()
	c := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://metrics/metrics")
	if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	if ct := string(resp.Header.ContentType()); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
	return string(resp.Body())
}

// line returns the sample line of a series (name{labels...}) or "".
func line(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			return l
		}
	}
	return ""
}

func mustLine(t *testing.T, text, prefix, value string) {
	t.Helper()
	l := line(text, prefix)
	if l == "" {
		t.Fatalf("no series %s in:\n%s", prefix, grepish(text, prefix[:strings.IndexByte(prefix+"{", '{')]))
	}
	if got := l[len(prefix)+1:]; got != value {
		t.Fatalf("%s = %s, want %s", prefix, got, value)
	}
}

func grepish(text, name string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

var azure = Labels{Endpoint: "chat", Tenant: "acme", Model: "gpt-5.5", Upstream: "azure-eu", Provider: "azure"}

func TestRecordExportsEveryFamily(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	h := tel.Handles(azure)
	h.Record(&Outcome{Status: 200, Cache: CacheMiss, Duration: 300 * time.Millisecond, TTFT: 50 * time.Millisecond,
		Usage: Usage{Input: 100, Output: 20, Cached: 64, Reasoning: 8, CostUSD: 0.25}})
	h.Record(&Outcome{Status: 200, Cache: CacheHit, Duration: time.Millisecond})
	h.Record(&Outcome{Status: 502, Cache: CacheMiss, Duration: time.Second})
	h.Record(&Outcome{Status: 418, Duration: time.Millisecond})
	h.Attempt(ResultOK, 200*time.Millisecond)
	h.Attempt(ResultRateLimited, 10*time.Millisecond)
	h.Fallback(ResultRateLimited)
	tel.Plugin("pii", "redact").Call(30*time.Microsecond, false)
	tel.Plugin("pii", "redact").Call(30*time.Microsecond, true)
	m := scrape(t, tel)

	base := `switchyard_requests_total{cache="%s",endpoint="chat",model="gpt-5.5",status="%s",tenant="acme",upstream="azure-eu"}`
	for _, c := range []struct{ cache, status, v string }{{"miss", "200", "1"}, {"hit", "200", "1"}, {"miss", "502", "1"}, {"none", "4xx", "1"}} {
		mustLine(t, m, strings.Replace(strings.Replace(base, "%s", c.cache, 1), "%s", c.status, 1), c.v)
	}
	genai := `endpoint="chat",gen_ai_operation_name="chat",gen_ai_provider_name="azure.ai.openai",gen_ai_request_model="gpt-5.5",tenant="acme",upstream="azure-eu"`
	mustLine(t, m, `gen_ai_server_time_to_first_token_seconds_count{`+genai+`}`, "1")
	mustLine(t, m, `gen_ai_server_time_to_first_token_seconds_sum{`+genai+`}`, "0.05")
	mustLine(t, m, `gen_ai_server_request_duration_seconds_count{`+genai+`}`, "4")
	tu := strings.Replace(genai, `,tenant=`, `,gen_ai_token_type="%s",tenant=`, 1)
	mustLine(t, m, `gen_ai_client_token_usage_sum{`+strings.Replace(tu, "%s", "input", 1)+`}`, "100")
	mustLine(t, m, `gen_ai_client_token_usage_sum{`+strings.Replace(tu, "%s", "output", 1)+`}`, "20")
	tok := `switchyard_tokens_total{endpoint="chat",model="gpt-5.5",tenant="acme",type="%s",upstream="azure-eu"}`
	for typ, v := range map[string]string{"input": "100", "output": "20", "cached": "64", "reasoning": "8"} {
		mustLine(t, m, strings.Replace(tok, "%s", typ, 1), v)
	}
	mustLine(t, m, `switchyard_cost_usd_total{endpoint="chat",model="gpt-5.5",tenant="acme",upstream="azure-eu"}`, "0.25")
	mustLine(t, m, `switchyard_upstream_attempts_total{result="ok",upstream="azure-eu"}`, "1")
	mustLine(t, m, `switchyard_upstream_attempts_total{result="rate_limited",upstream="azure-eu"}`, "1")
	mustLine(t, m, `switchyard_fallbacks_total{reason="rate_limited",upstream="azure-eu"}`, "1")
	mustLine(t, m, `gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="azure.ai.openai",gen_ai_request_model="gpt-5.5",upstream="azure-eu"}`, "2")
	mustLine(t, m, `switchyard_plugin_calls_total{hook="redact",plugin="pii"}`, "2")
	mustLine(t, m, `switchyard_plugin_call_failures_total{hook="redact",plugin="pii"}`, "1")
	mustLine(t, m, `switchyard_plugin_call_duration_seconds_count{hook="redact",plugin="pii"}`, "2")
	tel.Plugin("pii", "route").Call(time.Microsecond, false)
	if c, f := tel.PluginCounts("pii"); c != 3 || f != 1 {
		t.Fatalf("plugin counts %d %d", c, f)
	}
	if c, f := tel.PluginCounts("other"); c != 0 || f != 0 {
		t.Fatalf("unknown plugin counts %d %d", c, f)
	}
	if strings.Contains(m, "go_goroutines") {
		t.Fatal("NoProcessMetrics still exported Go runtime metrics")
	}
}

// Regression: the hand-written exporter reset its counters on every reload.
// A reload builds new handles for the same labels; they must be the same
// children, so counting continues.
func TestMetricsContinueAcrossReloads(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	gen1 := tel.Handles(azure)
	gen1.Record(&Outcome{Status: 200, Duration: time.Millisecond, Usage: Usage{Input: 5}})
	gen2 := tel.Handles(azure) // the next generation, built from a reloaded config
	if gen1 != gen2 {
		t.Fatal("a reload got new handles for the same labels")
	}
	gen2.Record(&Outcome{Status: 200, Duration: time.Millisecond, Usage: Usage{Input: 7}})
	m := scrape(t, tel)
	mustLine(t, m, `switchyard_requests_total{cache="none",endpoint="chat",model="gpt-5.5",status="200",tenant="acme",upstream="azure-eu"}`, "2")
	mustLine(t, m, `switchyard_tokens_total{endpoint="chat",model="gpt-5.5",tenant="acme",type="input",upstream="azure-eu"}`, "12")
	if p1, p2 := tel.Plugin("x", "route"), tel.Plugin("x", "route"); p1 != p2 {
		t.Fatal("plugin handles differ across builds")
	}
}

// Local overloads are counted by reason, and an overloaded attempt is its
// own result: not a server error, and no attempt duration (it never reached
// the cloud).
func TestOverloads(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	tel.Overload(OverloadPool)
	tel.Overload(OverloadStreams)
	tel.Overload(OverloadStreams)
	tel.Overload(OverloadReason(200)) // out of range: ignored, not a panic
	h := tel.Handles(azure)
	h.Attempt(ResultOverloaded, time.Second)
	m := scrape(t, tel)
	mustLine(t, m, `switchyard_overloads_total{reason="pool"}`, "1")
	mustLine(t, m, `switchyard_overloads_total{reason="pop_streams"}`, "2")
	mustLine(t, m, `switchyard_overloads_total{reason="pop_in_flight"}`, "0")
	mustLine(t, m, `switchyard_upstream_attempts_total{result="overloaded",upstream="`+azure.Upstream+`"}`, "1")
	mustLine(t, m, `switchyard_upstream_attempts_total{result="server_error",upstream="`+azure.Upstream+`"}`, "0")
	if strings.Contains(m, `gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="azure.ai.openai",gen_ai_request_model="`+azure.Model+`",upstream="`+azure.Upstream+`"} 1`) {
		t.Fatal("an overloaded attempt observed a duration")
	}
}

func TestLabelValuesAreEscaped(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	h := tel.Handles(Labels{Endpoint: "chat", Tenant: "a\"b\\c\nd", Model: "m", Upstream: "u", Provider: "openai"})
	h.Record(&Outcome{Status: 200, Duration: time.Millisecond})
	m := scrape(t, tel)
	mustLine(t, m, `switchyard_requests_total{cache="none",endpoint="chat",model="m",status="200",tenant="a\"b\\c\nd",upstream="u"}`, "1")
	if strings.Contains(m, "a\"b") || strings.Contains(m, "c\nd") {
		t.Fatal("raw quote or newline in the exposition")
	}
}

func TestNoUpstreamIsNone(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	h := tel.Handles(Labels{Endpoint: "chat", Tenant: "acme", Model: "gpt-5.5"})
	h.Record(&Outcome{Status: 401, Duration: time.Millisecond})
	h.Attempt(ResultOK, time.Millisecond) // no upstream: ignored, not a panic
	h.Fallback(ResultTimeout)
	m := scrape(t, tel)
	mustLine(t, m, `switchyard_requests_total{cache="none",endpoint="chat",model="gpt-5.5",status="401",tenant="acme",upstream="none"}`, "1")
	if strings.Contains(m, `switchyard_upstream_attempts_total{result="ok",upstream="none"}`) {
		t.Fatal("attempt counted for no upstream")
	}
}

func TestStatusSlots(t *testing.T) {
	for _, c := range []struct {
		status int
		want   string
	}{{200, "200"}, {201, "2xx"}, {304, "3xx"}, {429, "429"}, {418, "4xx"}, {503, "503"}, {507, "5xx"}, {600, "5xx"}, {0, "1xx"}, {101, "1xx"}} {
		if got := statusLabel(c.status); got != c.want {
			t.Errorf("status %d → %q, want %q", c.status, got, c.want)
		}
	}
	for i, s := range statusSlots {
		if statusIsError(i) != (s[0] == '5') {
			t.Errorf("slot %s: error=%v", s, statusIsError(i))
		}
	}
}

type fakeStats struct{}

func (fakeStats) UpstreamStats(dst []UpstreamStat) []UpstreamStat {
	return append(dst, UpstreamStat{Name: "bedrock-us", Provider: "bedrock", Healthy: false, Breaker: BreakerOpen,
		InFlight: 3, LatencyEWMA: 1500 * time.Millisecond, TTFBEWMA: 250 * time.Millisecond, ErrorRate: 0.5, Overloads: 6,
		Renewals: 2, Unrenewed: 1})
}
func (fakeStats) LoadStats() LoadStat {
	return LoadStat{Streams: 12, InFlight: 15, MaxStreams: 20, MaxInFlight: 25}
}
func (fakeStats) PluginStats(dst []PluginStat) []PluginStat {
	return append(dst, PluginStat{Name: "pii", Module: "sha256:ab", Version: "1.2.0", Healthy: true, Skipped: 4, Rebuilds: 1, PoolSize: 4, PoolIdle: 3})
}
func (fakeStats) CacheStats() (CacheStat, bool) {
	return CacheStat{Entries: 10, Bytes: 2048, MaxBytes: 1 << 20, Hits: 7, Misses: 3, Coalesced: 2, Sets: 3, Rejected: 1, Evicted: 0}, true
}

func TestLiveStatsAreReadAtScrape(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	if m := scrape(t, tel); strings.Contains(m, "switchyard_upstream_healthy") {
		t.Fatal("live metrics without a Stats source")
	}
	tel.SetStats(fakeStats{})
	m := scrape(t, tel)
	mustLine(t, m, `switchyard_upstream_healthy{provider="aws.bedrock",upstream="bedrock-us"}`, "0")
	mustLine(t, m, `switchyard_upstream_breaker_state{state="open",upstream="bedrock-us"}`, "1")
	mustLine(t, m, `switchyard_upstream_breaker_state{state="closed",upstream="bedrock-us"}`, "0")
	mustLine(t, m, `switchyard_upstream_in_flight{upstream="bedrock-us"}`, "3")
	mustLine(t, m, `switchyard_upstream_latency_ewma_seconds{upstream="bedrock-us"}`, "1.5")
	mustLine(t, m, `switchyard_upstream_ttfb_ewma_seconds{upstream="bedrock-us"}`, "0.25")
	mustLine(t, m, `switchyard_upstream_error_ratio{upstream="bedrock-us"}`, "0.5")
	mustLine(t, m, `switchyard_upstream_overloads_total{upstream="bedrock-us"}`, "6")
	mustLine(t, m, `switchyard_streams_live`, "12")
	mustLine(t, m, `switchyard_requests_in_flight`, "15")
	mustLine(t, m, `switchyard_streams_max`, "20")
	mustLine(t, m, `switchyard_requests_in_flight_max`, "25")
	mustLine(t, m, `switchyard_upstream_credential_renewals_total{result="renewed",upstream="bedrock-us"}`, "2")
	mustLine(t, m, `switchyard_upstream_credential_renewals_total{result="unrenewed",upstream="bedrock-us"}`, "1")
	mustLine(t, m, `switchyard_plugin_healthy{module="sha256:ab",plugin="pii",version="1.2.0"}`, "1")
	mustLine(t, m, `switchyard_plugin_pool_instances{plugin="pii",state="busy"}`, "1")
	mustLine(t, m, `switchyard_cache_hits_total`, "7")
	mustLine(t, m, `switchyard_cache_coalesced_total`, "2")
	mustLine(t, m, `switchyard_cache_entries`, "10")
	mustLine(t, m, `switchyard_cache_bytes`, "2048")
}

func TestAppendTraffic(t *testing.T) {
	tel := newTel(t, Config{NoProcessMetrics: true})
	h := tel.Handles(azure)
	h.Record(&Outcome{Status: 200, Cache: CacheMiss, Duration: time.Second, TTFT: 100 * time.Millisecond, Usage: Usage{Input: 10, Output: 3, CostUSD: 0.5}})
	h.Record(&Outcome{Status: 200, Cache: CacheHit, Duration: time.Millisecond})
	h.Record(&Outcome{Status: 200, Cache: CacheCoalesced, Duration: time.Millisecond, TTFT: 300 * time.Millisecond})
	h.Record(&Outcome{Status: 503, Duration: time.Millisecond})
	h.Record(&Outcome{Status: 429, Duration: time.Millisecond})
	rows := tel.AppendTraffic(nil)
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	want := Traffic{Endpoint: "chat", Tenant: "acme", Model: "gpt-5.5", Upstream: "azure-eu", Requests: 5, Errors: 1, CacheHits: 2,
		TTFTSeconds: 0.4, TTFTCount: 2, InputTokens: 10, OutputTokens: 3, CostUSD: 0.5}
	if d := r.TTFTSeconds - want.TTFTSeconds; d > 1e-9 || d < -1e-9 {
		t.Fatalf("ttft sum %v", r.TTFTSeconds)
	}
	r.TTFTSeconds = want.TTFTSeconds
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
}

// findPromtool returns promtool's path, installing Debian's prometheus
// package when it is missing (CI machines start without it).
func findPromtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "prometheus").CombinedOutput()
	if err != nil { // a fresh machine has no package lists yet
		exec.CommandContext(ctx, "apt-get", "update").Run()
		out, err = exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "prometheus").CombinedOutput()
	}
	if p, lerr := exec.LookPath("promtool"); lerr == nil {
		return p
	}
	t.Fatalf("promtool is missing and `apt-get install prometheus` did not provide it (%v): %s\ninstall Debian's prometheus package", err, tail(out))
	return ""
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := findPromtool(t)
	tel := newTel(t, Config{})
	tel.SetStats(fakeStats{})
	for _, l := range []Labels{azure, {Endpoint: "responses", Tenant: "t\"1\\\n", Model: "gpt-oss-120b", Upstream: "bedrock-us", Provider: "bedrock"},
		{Endpoint: "embeddings", Tenant: "acme", Model: "emb"}} {
		h := tel.Handles(l)
		h.Record(&Outcome{Status: 200, Cache: CacheMiss, Duration: time.Second, TTFT: time.Millisecond, Usage: Usage{Input: 1, Output: 2, Cached: 1, Reasoning: 1, CostUSD: 0.01}})
		h.Attempt(ResultTimeout, time.Second)
		h.Fallback(ResultTimeout)
	}
	tel.Plugin("pii", "redact").Call(time.Microsecond, true)
	m := scrape(t, tel)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(m)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
