package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchyard-dev/switchyard/router/admin"
	"github.com/switchyard-dev/switchyard/router/telemetry"
)

// findChromium returns Debian's chromium, installing it when missing.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "chromium").CombinedOutput()
	if err != nil { // a fresh machine has no package lists yet
		exec.CommandContext(ctx, "apt-get", "update").Run()
		out, err = exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "chromium").CombinedOutput()
	}
	if _, serr := os.Stat("/usr/bin/chromium"); serr == nil {
		return "/usr/bin/chromium"
	}
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	t.Fatalf("chromium is missing and `apt-get install chromium` did not provide it (%v): %s\ninstall Debian's chromium package", err, out)
	return ""
}

// traffic records requests for two tenants on two upstreams until ctx ends
// (at most 90 s): some 5xx, some cache hits, TTFTs and costs that differ
// per upstream, so every chart has a line per group.
func traffic(ctx context.Context, src *testSource, wg *sync.WaitGroup) {
	defer wg.Done()
	var hs []*telemetry.Handles
	for _, tenant := range []string{"acme", "beta"} {
		hs = append(hs,
			src.tel.Handles(telemetry.Labels{Endpoint: "chat", Tenant: tenant, Model: "gpt-5.5", Upstream: "azure-eu", Provider: "azure"}),
			src.tel.Handles(telemetry.Labels{Endpoint: "chat", Tenant: tenant, Model: "gpt-oss-120b", Upstream: "bedrock-us", Provider: "bedrock"}))
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(90 * time.Second)
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			return
		case <-tick.C:
		}
		h := hs[i%len(hs)]
		status, cache := 200, telemetry.CacheMiss
		switch {
		case i%7 == 0:
			status = 502
		case i%5 == 0:
			cache = telemetry.CacheHit
		}
		ttft := time.Duration(150+(i%4)*60) * time.Millisecond
		if h.Labels().Upstream == "bedrock-us" {
			ttft *= 2
		}
		src.hit(h, status, cache, ttft, 0.0004*float64(1+i%3))
	}
}

func TestDashboardInChromium(t *testing.T) {
	chromium := findChromium(t)
	src := newSource(t)
	s := start(t, admin.Config{SampleInterval: 200 * time.Millisecond, History: 60}, admin.Options{Source: src})

	gen, stopGen := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go traffic(gen, src, &wg)
	defer func() { stopGen(); wg.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	// Every console call of type warning or error, uncaught exception and
	// browser log entry (a failed fetch, a refused CSP load) is a problem.
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
				problems = append(problems, string(m.Type)+": "+m.String()+" at "+m.URL)
				mu.Unlock()
			}
		}
	}()
	defer func() { lcancel(); <-listened }()

	url := "http://" + s.Addr().String() + "/dashboard/#token=" + token
	// Charts are filled when every canvas drew points from several samples,
	// health tiles show both upstreams and the plugin table has its row.
	const filled = `(() => {
		const d = window.__dashboard;
		if (!d || d.polls < 3) return false;
		const ids = ["chart-rps", "chart-errors", "chart-ttft", "chart-cost", "chart-cache"];
		return ids.every(id => Number(document.getElementById(id).dataset.points) >= 6) &&
			document.querySelectorAll("#upstreams .tile").length === 2 &&
			document.querySelector("#plugins td") !== null &&
			document.getElementById("cache-ratio").textContent.includes("%");
	})()`
	err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 1000), chromedp.Navigate(url))
	if err == nil {
		_, err = chromedp.Run(bctx, chromedp.Poll[bool](filled, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
	}
	if err != nil {
		dump, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("status").textContent + " " + JSON.stringify([...document.querySelectorAll("canvas")].map(c => c.id + "=" + c.dataset.points))`))
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("dashboard did not fill: %v (%s) problems: %v", err, dump, problems)
	}

	// The token left the URL (it is kept in sessionStorage only).
	loc, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		t.Fatal(err)
	}
	rects, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify([...document.querySelectorAll(".charts canvas")].map(c => { const r = c.getBoundingClientRect(); return {id: c.id, x: r.x, y: r.y, w: r.width, h: r.height}; }))`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, token) {
		t.Fatalf("token still in the URL: %s", loc)
	}

	shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("DASHBOARD_SCREENSHOT"); p != "" {
		os.WriteFile(p, shot, 0o644)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1000 {
		t.Fatalf("screenshot %v, want 1280x1000", b)
	}
	var boxes []struct {
		ID         string
		X, Y, W, H float64
	}
	if err := json.Unmarshal([]byte(rects), &boxes); err != nil || len(boxes) != 4 {
		t.Fatalf("chart boxes %v %s", err, rects)
	}
	for _, bx := range boxes {
		r := image.Rect(int(bx.X), int(bx.Y), int(bx.X+bx.W), int(bx.Y+bx.H)).Intersect(img.Bounds())
		if r.Dx() < 200 || r.Dy() < 100 {
			t.Fatalf("%s: chart box %v too small or off screen", bx.ID, r)
		}
		inked, blue := 0, 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				cr, cg, cb, _ := img.At(x, y).RGBA()
				r8, g8, b8 := int(cr>>8), int(cg>>8), int(cb>>8)
				if r8 < 235 || g8 < 235 || b8 < 235 {
					inked++
				}
				// The first series' colour, #2563eb, antialiased.
				if abs(r8-37) < 45 && abs(g8-99) < 45 && abs(b8-235) < 45 {
					blue++
				}
			}
		}
		area := r.Dx() * r.Dy()
		if inked*100 < area { // less than 1% drawn: blank
			t.Errorf("%s: %d of %d pixels drawn: blank chart", bx.ID, inked, area)
		}
		if blue < 30 {
			t.Errorf("%s: %d pixels of the first series' line: no data drawn", bx.ID, blue)
		}
	}

	// Grouping by tenant redraws from the same series.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#by-tenant"))); err != nil {
		t.Fatal(err)
	}
	byTenant, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.__dashboard.by === "tenants" && Number(document.getElementById("chart-rps").dataset.points) >= 6`))
	if err != nil || !byTenant {
		t.Fatalf("per-tenant view: %v %v", err, byTenant)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("console problems: %v", problems)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
