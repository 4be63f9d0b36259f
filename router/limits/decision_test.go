package limits

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestAppendDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {-time.Second, "0s"}, {1, "1ms"}, {20 * time.Millisecond, "20ms"}, {time.Second, "1s"},
		{1500 * time.Millisecond, "1.5s"}, {6 * time.Minute, "6m0s"}, {time.Hour, "1h0m0s"},
		{time.Second + time.Nanosecond, "1.001s"}, {6*time.Minute + 29*time.Second + 120*time.Millisecond, "6m29.12s"},
	} {
		if got := string(AppendDuration(nil, c.d)); got != c.want {
			t.Errorf("AppendDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	// Everything else: Go's own format of the duration rounded up to a millisecond.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		d := time.Duration(rng.Int64N(int64(50 * time.Hour)))
		want := ((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond).String()
		if got := string(AppendDuration(nil, d)); got != want {
			t.Fatalf("AppendDuration(%d) = %q, want %q", d, got, want)
		}
	}
}

func headersOf(d *Decision) map[string]string {
	m := map[string]string{}
	d.VisitHeaders(nil, func(k, v []byte) { m[string(k)] = string(v) })
	return m
}

func TestHeadersAllowed(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	acme := mustRules(t, l, TenantConfig{Name: "acme", Limits: Limits{RequestsPerMinute: 60, TokensPerMinute: 150_000}}).Tenant("acme")
	r, d := acme.Reserve(nil, Estimate{InputTokens: 10, OutputTokens: 6})
	r.Settle(Usage{InputTokens: 10, OutputTokens: 6})
	want := map[string]string{
		"x-ratelimit-limit-requests":     "60",
		"x-ratelimit-limit-tokens":       "150000",
		"x-ratelimit-remaining-requests": "59",
		"x-ratelimit-remaining-tokens":   "149984",
		"x-ratelimit-reset-requests":     "1s",  // one request of 60/min leaks in a second
		"x-ratelimit-reset-tokens":       "7ms", // 16 tokens of 150000/min: 6.4ms, rounded up
	}
	got := headersOf(&d)
	if len(got) != len(want) {
		t.Fatalf("headers %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	var h fasthttp.ResponseHeader
	d.WriteHeaders(&h)
	for k, v := range want {
		if g := string(h.Peek(k)); g != v {
			t.Errorf("WriteHeaders: %s = %q, want %q", k, g, v)
		}
	}
	if len(h.Peek("retry-after")) != 0 {
		t.Error("an allowed answer carries retry-after")
	}
	// No limits: no headers.
	free := mustRules(t, l, TenantConfig{Name: "free"}).Tenant("free")
	r, d = free.Reserve(nil, Estimate{InputTokens: 5})
	r.Cancel()
	if got := headersOf(&d); len(got) != 0 {
		t.Errorf("a tenant without limits gets headers %v", got)
	}
}

func TestRefusalBodiesAndHeaders(t *testing.T) {
	clock := newClock(t0)
	l := newLimiter(t, clock)
	rules := mustRules(t, l,
		TenantConfig{Name: "rpm", Limits: Limits{RequestsPerMinute: 2}},
		TenantConfig{Name: "tpm", Limits: Limits{TokensPerMinute: 1000}},
		TenantConfig{Name: "budget", Limits: Limits{DailyBudget: 0.000001}})
	fill := func(name string, est Estimate, u Usage) Decision {
		for {
			r, d := rules.Tenant(name).Reserve(nil, est)
			if !d.Allowed() {
				return d
			}
			r.Settle(u)
		}
	}
	for _, c := range []struct {
		d                       Decision
		typ, code, msg          string
		retryAfter, retryAfterM string
	}{
		{fill("rpm", Estimate{}, Usage{}), "requests", "rate_limit_exceeded",
			"Rate limit reached for requests per min (RPM) on this tenant: Limit 2, Used 2, Requested 1. Please try again in 30s.", "30", "30000"},
		{fill("tpm", Estimate{InputTokens: 300}, Usage{InputTokens: 300}), "tokens", "rate_limit_exceeded",
			"Rate limit reached for tokens per min (TPM) on this tenant: Limit 1000, Used 900, Requested 300. Please try again in 12s.", "12", "12000"},
		{fill("budget", Estimate{}, Usage{OutputTokens: 1, Price: Price{Output: 1}}), "insufficient_quota", "insufficient_quota",
			"You exceeded your current quota, please check your plan and billing details. The daily budget of this tenant is spent; it renews at 00:00 UTC.", "", ""},
	} {
		body := c.d.AppendErrorBody(nil)
		var e struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
				Code    string  `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		if e.Error.Type != c.typ || e.Error.Code != c.code || e.Error.Message != c.msg || e.Error.Param != nil {
			t.Errorf("body %s\nwant type %q code %q message %q", body, c.typ, c.code, c.msg)
		}
		h := headersOf(&c.d)
		if h["retry-after"] != c.retryAfter || h["retry-after-ms"] != c.retryAfterM {
			t.Errorf("%s: retry-after %q / %q, want %q / %q", c.typ, h["retry-after"], h["retry-after-ms"], c.retryAfter, c.retryAfterM)
		}
		if c.d.Status() != 429 {
			t.Errorf("status %d", c.d.Status())
		}
	}
	d := fill("tpm", Estimate{InputTokens: 300}, Usage{InputTokens: 300})
	if h := headersOf(&d); h["x-ratelimit-remaining-tokens"] != "100" || h["x-ratelimit-reset-tokens"] != "54s" {
		t.Errorf("refusal headers %v", h)
	}
	_, d = rules.Tenant("tpm").Reserve(nil, Estimate{InputTokens: 2000})
	if msg := string(d.AppendMessage(nil)); !strings.HasPrefix(msg, "Request too large for tokens per min (TPM) on this tenant: Limit 1000, Requested 2000.") {
		t.Errorf("too large: %q", msg)
	}
	if len(headersOf(&d)["retry-after"]) != 0 {
		t.Error("TooLarge carries retry-after: retrying cannot help")
	}
	var allowed Decision
	if b := allowed.AppendErrorBody([]byte("x")); string(b) != "x" || allowed.Status() != 200 {
		t.Error("an allowed decision has no error body")
	}
}
