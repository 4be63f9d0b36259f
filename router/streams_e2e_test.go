package router_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

// 2,000 concurrent streams of about a second each through the whole router,
// with the default config, to one upstream: every one completes with all
// its events (issue 16: the old default served 512 and broke the rest with
// a 502 counted against the cloud). The upstream-level twin is
// upstream.TestTwoThousandStreamsDefaultPool.
func TestTwoThousandStreamsThroughTheRouter(t *testing.T) {
	const streams = 2000
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 100 * time.Millisecond,
		Reply: func(string) string { return "one two three four five six seven eight nine ten" }})
	base, in := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)}})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: streams, DisableCompression: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	body := `{"model":"gpt-4o-mini","stream":true,"temperature":0.7,"messages":[{"role":"user","content":"hi"}]}`
	var ok atomic.Int64
	var mu sync.Mutex
	failures := map[string]int{}
	var wg sync.WaitGroup
	for range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := oneStream(ctx, hc, base, body)
			if err == nil {
				ok.Add(1)
				return
			}
			mu.Lock()
			failures[err.Error()]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ok.Load() != streams {
		t.Fatalf("%d of %d streams complete; failures: %v", ok.Load(), streams, failures)
	}
	if s := in.Registry().Stats("up").Snapshot(); s.Errors != 0 || s.Overloads != 0 || s.BreakerOpen {
		t.Fatalf("upstream statistics after the run: %+v", s)
	}
}

// oneStream reads one streamed answer to its [DONE] and checks its text.
func oneStream(ctx context.Context, hc *http.Client, base, body string) error {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("request: %T", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	var text strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "data: [DONE]" {
			if !strings.Contains(text.String(), `ten"`) {
				return fmt.Errorf("incomplete text")
			}
			return nil
		}
		text.WriteString(line)
	}
	return fmt.Errorf("cut before [DONE]")
}
