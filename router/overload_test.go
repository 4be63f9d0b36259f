package router_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// holdPrompt makes slowMock answer with a long stream (one event per
// ChunkDelay for a thousand words): a stream that stays live until its
// client goes away. Any other prompt gets the usual short answer.
const holdPrompt = "hold"

// slowMock is an OpenAI mock cloud whose streams send one event per 20 ms.
func slowMock(t *testing.T) *mockcloud.Server {
	return startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", Models: []string{"gpt-4o-mini"},
		ChunkDelay: 20 * time.Millisecond, Reply: func(p string) string {
			if p == holdPrompt {
				return strings.Repeat("word ", 1000)
			}
			return "You said: " + p
		}})
}

const (
	streamBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello edge"}]}`
	holdBody   = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"` + holdPrompt + `"}]}`
)

// holdStreams opens n long streams through the router and returns once each
// has relayed its first event (so each is live in the router and holds an
// upstream connection). Closing a stream's body ends it: the router's next
// write fails and its relay closes. The bodies are closed at cleanup too.
func holdStreams(t *testing.T, base string, n int) []io.Closer {
	t.Helper()
	var held []io.Closer
	for range n {
		req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(holdBody))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("holding stream: %d %s", resp.StatusCode, b)
		}
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("holding stream ended before its first event: %v", err)
			}
			if strings.HasPrefix(line, "data: ") {
				break
			}
		}
		held = append(held, resp.Body)
	}
	return held
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}

// readyz is /readyz's status and body.
func readyz(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	status, b, _ := do(t, "GET", base+"/readyz", "", "")
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("/readyz body %q: %v", b, err)
	}
	return status, m
}

// waitReadyz polls /readyz until it answers status (bounded), and returns its body.
func waitReadyz(t *testing.T, base string, status int) map[string]any {
	t.Helper()
	var m map[string]any
	eventually(t, fmt.Sprintf("/readyz answered %d", status), func() bool {
		var got int
		got, m = readyz(t, base)
		return got == status
	})
	return m
}

// mustOverload checks a local overload answer: 503, retry-after, the
// OpenAI-style body with the overload code (not upstream_unavailable), and an
// x-request-id like every other answer.
func mustOverload(t *testing.T, status int, h http.Header, body string) {
	t.Helper()
	var e errBody
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("overload body %q: %v", body, err)
	}
	if status != 503 || h.Get("Retry-After") != "1" || e.Error.Code != upstream.CodeOverloaded ||
		e.Error.Type != upstream.ErrOverloaded.Type || e.Error.Message == "" || h.Get("X-Request-Id") == "" {
		t.Fatalf("overload answer: %d retry-after=%q x-request-id=%q %s", status, h.Get("Retry-After"), h.Get("X-Request-Id"), body)
	}
}

// counts are the statistics an overload must not move.
type counts struct {
	Requests, Errors uint64
	ErrorRate        float64
	BreakerOpen      bool
	Failures         int32
}

func statsOf(in *router.Instance, name string) (counts, uint64) {
	s := in.Registry().Stats(name).Snapshot()
	return counts{s.Requests, s.Errors, s.ErrorRate, s.BreakerOpen, s.Failures}, s.Overloads
}

// routingErrorRate is the error rate a routing plugin sees for name.
func routingErrorRate(in *router.Instance, name string) float64 {
	_, _, _, e := in.Registry().Stats(name).Live()
	return e
}

// The PoP bound: with limits.max_streams streams live, another stream
// request gets the overload answer at once — before any plugin or upstream —
// while /readyz reports busy with the counts; the upstream's breaker and
// error rate do not move; non-streamed requests still pass. When the streams
// end, /readyz is ready again and streams pass.
func TestOverloadPoPStreamsBound(t *testing.T) {
	m := slowMock(t)
	const n = 2
	base, in := startRouter(t, &config.Config{Limits: config.Limits{MaxStreams: n},
		Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	if status, body := readyz(t, base); status != 200 || body["status"] != "ready" {
		t.Fatalf("/readyz before load: %d %v", status, body)
	}

	held := holdStreams(t, base, n)
	busy := waitReadyz(t, base, 503)
	if busy["status"] != "busy" || busy["streams"] != float64(n) || busy["max_streams"] != float64(n) ||
		busy["max_in_flight"] != float64(config.DefaultMaxInFlight) || busy["in_flight"] != float64(n) {
		t.Fatalf("/readyz at the bound: %v", busy)
	}
	before, overloads := statsOf(in, "up")
	calls := m.Calls()
	metrics := scrape(t, base)
	if v := metricValue(t, metrics, "switchyard_streams_live"); v != n {
		t.Fatalf("switchyard_streams_live = %v, want %d", v, n)
	}
	if v := metricValue(t, metrics, "switchyard_requests_in_flight"); v != n {
		t.Fatalf("switchyard_requests_in_flight = %v, want %d", v, n)
	}
	// A stream parks just after its first write (the client may read that
	// event first).
	eventually(t, "both live streams wait on the event loop", func() bool {
		return metricValue(t, scrape(t, base), "switchyard_streams_parked") == n
	})

	status, h, body := post(t, base, streamBody)
	mustOverload(t, status, h, body)
	if m.Calls() != calls {
		t.Fatal("the refused stream reached the upstream")
	}
	after, overloadsAfter := statsOf(in, "up")
	if after != before || overloadsAfter != overloads || routingErrorRate(in, "up") != 0 {
		t.Fatalf("a PoP overload moved the upstream's statistics: before %+v after %+v", before, after)
	}
	metrics = scrape(t, base)
	if v := metricValue(t, metrics, `switchyard_overloads_total{reason="pop_streams"}`); v != 1 {
		t.Fatalf(`switchyard_overloads_total{reason="pop_streams"} = %v, want 1`, v)
	}
	if v := metricValue(t, metrics, "switchyard_requests_failed_total"); v != 0 {
		t.Fatalf("switchyard_requests_failed_total = %v: an overload counted as a failure", v)
	}

	// A non-streamed request is not a stream: it passes.
	if status, _, body := post(t, base, chatBody); status != 200 {
		t.Fatalf("JSON request at the stream bound: %d %s", status, body)
	}

	closeAll(held)
	if ready := waitReadyz(t, base, 200); ready["status"] != "ready" {
		t.Fatalf("/readyz after the streams ended: %v", ready)
	}
	status, _, body = post(t, base, streamBody)
	if status != 200 || !strings.Contains(body, "[DONE]") {
		t.Fatalf("stream after the bound cleared: %d %s", status, body)
	}
	if v := metricValue(t, scrape(t, base), "switchyard_streams_live"); v != 0 {
		t.Fatalf("switchyard_streams_live = %v after every stream ended", v)
	}
}

// limits.max_in_flight counts every API request, live streams included;
// beyond it any request is refused at once, and a reload changes the bound
// for the requests that follow (the count belongs to the process).
func TestOverloadPoPInFlightBoundAndReload(t *testing.T) {
	m := slowMock(t)
	cfg := func(maxInFlight int64) *config.Config {
		c := &config.Config{Listen: "127.0.0.1:0", Limits: config.Limits{MaxInFlight: maxInFlight},
			Upstreams: []config.Upstream{openaiUpstream("up", m)}}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	base, in := startRouter(t, cfg(2))
	held := holdStreams(t, base, 2)
	if busy := waitReadyz(t, base, 503); busy["status"] != "busy" || busy["in_flight"] != float64(2) {
		t.Fatalf("/readyz at the in-flight bound: %v", busy)
	}
	calls := m.Calls()
	status, h, body := post(t, base, chatBody)
	mustOverload(t, status, h, body)
	if m.Calls() != calls {
		t.Fatal("the refused request reached the upstream")
	}
	if v := metricValue(t, scrape(t, base), `switchyard_overloads_total{reason="pop_in_flight"}`); v != 1 {
		t.Fatalf(`switchyard_overloads_total{reason="pop_in_flight"} = %v, want 1`, v)
	}

	if err := in.Reload(context.Background(), cfg(10)); err != nil {
		t.Fatal(err)
	}
	if status, body := readyz(t, base); status != 200 {
		t.Fatalf("/readyz after the bound was raised: %d %v", status, body)
	}
	if status, _, body := post(t, base, chatBody); status != 200 {
		t.Fatalf("request after the bound was raised: %d %s", status, body)
	}
	closeAll(held)
	waitReadyz(t, base, 200)
}

// The pool bound: upstream a's pool (max_conns: 1) is held by a live stream;
// the next request waits at most upstream_pool.max_conn_wait for it, then
// goes at once to b, which serves the same model and has room. a's breaker
// and error rate do not move; the overload is counted on a.
func TestOverloadPoolFallsBackToCloudWithRoom(t *testing.T) {
	ma, mb := slowMock(t), slowMock(t)
	a, b := openaiUpstream("a", ma), openaiUpstream("b", mb)
	a.MaxConns = 1
	base, in := startRouter(t, &config.Config{UpstreamPool: config.UpstreamPool{MaxConnWait: 20 * time.Millisecond},
		Upstreams: []config.Upstream{a, b}})
	held := holdStreams(t, base, 1) // a is first in the default order: it serves the held stream
	defer closeAll(held)
	if ma.InFlight() != 1 || mb.Calls() != 0 {
		t.Fatalf("the held stream is not on a: a in flight %d, b calls %d", ma.InFlight(), mb.Calls())
	}
	before, overloads := statsOf(in, "a")

	for _, body := range []string{chatBody, streamBody} {
		status, h, got := post(t, base, body)
		if status != 200 || h.Get("X-Switchyard-Upstream") != "b" {
			t.Fatalf("request with a's pool full: %d served by %q: %s", status, h.Get("X-Switchyard-Upstream"), got)
		}
	}
	after, overloadsAfter := statsOf(in, "a")
	if after != before || routingErrorRate(in, "a") != 0 {
		t.Fatalf("a full pool moved a's statistics: before %+v after %+v", before, after)
	}
	if overloadsAfter != overloads+2 {
		t.Fatalf("a's overloads %d, want %d", overloadsAfter, overloads+2)
	}
	metrics := scrape(t, base)
	for series, want := range map[string]float64{
		`switchyard_upstream_overloads_total{upstream="a"}`:                      float64(overloadsAfter),
		`switchyard_upstream_attempts_total{result="overloaded",upstream="a"}`:   2,
		`switchyard_upstream_attempts_total{result="server_error",upstream="a"}`: 0,
		`switchyard_overloads_total{reason="pool"}`:                              0, // b answered: no overload answer
	} {
		if v := metricValue(t, metrics, series); v != want && !(want == 0 && v == -1) {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
}

// With no other cloud, a full pool is answered as the overload (503
// "overloaded" with retry-after) once upstream_pool.max_conn_wait has passed,
// never as upstream_unavailable, and never as the upstream's failure.
func TestOverloadPoolWithoutOtherCloud(t *testing.T) {
	m := slowMock(t)
	u := openaiUpstream("up", m)
	u.MaxConns = 1
	base, in := startRouter(t, &config.Config{UpstreamPool: config.UpstreamPool{MaxConnWait: 20 * time.Millisecond},
		Upstreams: []config.Upstream{u}})
	held := holdStreams(t, base, 1)
	defer closeAll(held)
	before, overloads := statsOf(in, "up")

	status, h, body := post(t, base, chatBody)
	mustOverload(t, status, h, body)
	after, overloadsAfter := statsOf(in, "up")
	if after != before || overloadsAfter != overloads+1 || routingErrorRate(in, "up") != 0 {
		t.Fatalf("statistics before %+v after %+v, overloads %d → %d", before, after, overloads, overloadsAfter)
	}
	metrics := scrape(t, base)
	if v := metricValue(t, metrics, `switchyard_overloads_total{reason="pool"}`); v != 1 {
		t.Fatalf(`switchyard_overloads_total{reason="pool"} = %v, want 1`, v)
	}
	if v := metricValue(t, metrics, "switchyard_requests_failed_total"); v != 0 {
		t.Fatalf("switchyard_requests_failed_total = %v: a full pool counted as a failure", v)
	}
	// The PoP itself is not at a bound: /readyz stays ready (another cloud
	// or model may have room).
	if status, body := readyz(t, base); status != 200 {
		t.Fatalf("/readyz with one pool full: %d %v", status, body)
	}
}
