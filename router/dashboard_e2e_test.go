package router_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard-dev/switchyard/router/config"
)

// The dashboard, served by a real instance's admin listener, fills its
// charts from real traffic through the public listener (JSON, streams and
// cache hits to a mock cloud), in Debian's headless Chromium, with no
// console error.
func TestDashboardWithRealTraffic(t *testing.T) {
	chromium := "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatal("Debian's chromium is required: ", err)
	}
	m := openaiMock(t)
	base, in := startRouter(t, &config.Config{
		Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Admin:     config.Admin{Listen: "127.0.0.1:0", Token: "dash-token"},
	})
	gen, stop := context.WithTimeout(context.Background(), 90*time.Second)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bodies := []string{chatBody, `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"s"}]}`,
			`{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"cached"}]}`}
		for i := 0; gen.Err() == nil; i++ {
			req, _ := http.NewRequestWithContext(gen, "POST", base+"/v1/chat/completions", strings.NewReader(bodies[i%3]))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			select {
			case <-gen.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	defer func() { stop(); wg.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	var mu sync.Mutex
	var problems []string
	lctx, lcancel := context.WithCancel(bctx)
	messages := chromedp.Console(lctx)
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				mu.Lock()
				problems = append(problems, string(m.Type)+": "+m.String())
				mu.Unlock()
			}
		}
	}()
	defer func() { lcancel(); <-listened }()

	const filled = `(() => {
		const d = window.__dashboard;
		if (!d || d.polls < 3) return false;
		return ["chart-rps", "chart-ttft", "chart-cost", "chart-cache"].every(id => Number(document.getElementById(id).dataset.points) >= 3) &&
			document.querySelectorAll("#upstreams .tile").length === 1 &&
			document.getElementById("cache-ratio").textContent.includes("%");
	})()`
	err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 1000), chromedp.Navigate("http://"+in.AdminAddr()+"/dashboard/#token=dash-token"))
	if err == nil {
		_, err = chromedp.Run(bctx, chromedp.Poll[bool](filled, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(80*time.Second)))
	}
	if err != nil {
		dump, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("status").textContent + " " + JSON.stringify([...document.querySelectorAll("canvas")].map(c => c.id + "=" + c.dataset.points))`))
		t.Fatalf("dashboard did not fill from real traffic: %v (%s)", err, dump)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("console problems: %v", problems)
	}
}
