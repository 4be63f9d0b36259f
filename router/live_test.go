package router_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/upstream"
)

// A reload sends new requests to the new generation at once, while a stream
// that started on the old one finishes there; the old one is released only
// after.
func TestReloadKeepsInFlightStreams(t *testing.T) {
	slow := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 40 * time.Millisecond})
	fresh := azureMock(t)
	cfgFor := func(u config.Upstream) *config.Config {
		cfg := &config.Config{Listen: "127.0.0.1:0", Upstreams: []config.Upstream{u}}
		cfg.ApplyDefaults()
		return cfg
	}
	base, in := startRouter(t, cfgFor(openaiUpstream("old", slow)))
	old := in.Current()

	resp, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three four five six"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Reload(context.Background(), cfgFor(azureUpstream("new", fresh, "v1"))); err != nil {
		t.Fatal(err)
	}
	r2, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"after"}]}`))
	if err != nil || r2.Header.Get("x-switchyard-upstream") != "new" {
		t.Fatalf("new request not on the new config: %v %v", err, r2.Header)
	}
	r2.Body.Close()
	select {
	case <-old.Released():
		t.Fatal("the old generation was released while its stream was still running")
	default:
	}

	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.HasSuffix(string(body), "data: [DONE]\n\n") || resp.Header.Get("x-switchyard-upstream") != "old" {
		t.Fatalf("in-flight stream broken by the reload: %v %q", err, body)
	}
	if in.Current() == old {
		t.Fatal("Current is still the old generation")
	}
}

// The old generation is released exactly when its last stream ends: not
// before (the stream would break), and not by a timer or a poll (it happens
// at the stream's end, however long the stream).
func TestOldGenerationReleasedWhenLastStreamEnds(t *testing.T) {
	slow := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 30 * time.Millisecond})
	cfg := func() *config.Config {
		c := &config.Config{Listen: "127.0.0.1:0", Upstreams: []config.Upstream{openaiUpstream("up", slow)}}
		c.ApplyDefaults()
		return c
	}
	base, in := startRouter(t, cfg())
	old := in.Current()
	open := func(words int) *http.Response {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"`+strings.Repeat("word ", words)+`"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	readAll := func(resp *http.Response) {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
			t.Fatalf("stream broken: %v %q", err, body)
		}
	}
	short, long := open(3), open(80) // the long one runs for seconds
	if err := in.Reload(context.Background(), cfg()); err != nil {
		t.Fatal(err)
	}
	readAll(short)
	select {
	case <-old.Released():
		t.Fatal("released while a stream was still running on it")
	default:
	}
	readAll(long)
	select {
	case <-old.Released():
	case <-time.After(10 * time.Second):
		t.Fatal("not released after its last stream ended")
	}
}

// Statistics and counters belong to the process: traffic through three
// reloads keeps the request counters, the upstream's latency average and its
// breaker state, with no failed request.
func TestReloadKeepsStatistics(t *testing.T) {
	good := openaiMock(t)
	bad := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test"})
	bad.Inject(mockcloud.Fault{Status: 503, Times: 1000})
	cfg := func(n int) *config.Config {
		c := &config.Config{Listen: "127.0.0.1:0", Upstreams: []config.Upstream{openaiUpstream("flaky", bad), openaiUpstream("good", good)}}
		c.PoP.Name = fmt.Sprint("gen", n) // a real change per reload
		c.ApplyDefaults()
		return c
	}
	base, in := startRouter(t, cfg(0))
	send := func() {
		t.Helper()
		resp, err := http.Post(base+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	stats := func(name string) upstream.Snapshot { return in.Registry().Stats(name).Snapshot() }
	served := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "switchyard_requests_served_total ") {
				return strings.TrimPrefix(l, "switchyard_requests_served_total ")
			}
		}
		t.Fatalf("no served counter in\n%s", b)
		return ""
	}
	// "flaky" fails every attempt until its breaker opens; "good" answers.
	for range upstream.FailuresToOpen {
		send()
	}
	if st := stats("flaky"); !st.BreakerOpen {
		t.Fatalf("breaker not open before the reloads: %+v", st)
	}
	before := stats("good")
	for n := 1; n <= 3; n++ {
		if err := in.Reload(context.Background(), cfg(n)); err != nil {
			t.Fatal(err)
		}
		send()
		if got, want := served(), fmt.Sprint(upstream.FailuresToOpen+n); got != want {
			t.Fatalf("after reload %d: served counter %s, want %s", n, got, want)
		}
		// The breaker's count of consecutive failures carries over (its
		// cool-down may end on a slow machine, so that is not asserted).
		if st := stats("flaky"); st.Failures < upstream.FailuresToOpen || st.Requests < upstream.FailuresToOpen {
			t.Fatalf("after reload %d: breaker state lost: %+v", n, st)
		}
		st := stats("good")
		if st.Requests != before.Requests+uint64(n) || st.LatencyUS == 0 {
			t.Fatalf("after reload %d: latency statistics lost: %+v (before %+v)", n, st, before)
		}
	}
}
