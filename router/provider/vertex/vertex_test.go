package vertex

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// tokenServer is a loopback OAuth2 token endpoint: it mints "tok-N" tokens
// with a fixed lifetime and reports every request on calls.
type tokenServer struct {
	*httptest.Server
	ttl   int
	fail  atomic.Bool
	n     atomic.Int64
	calls chan bool // true for a minted token, false for a failure
}

func newTokenServer(t *testing.T, ttl int) *tokenServer {
	ts := &tokenServer{ttl: ttl, calls: make(chan bool, 1000)}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.Form.Get("assertion") == "" {
			http.Error(w, `{"error":"invalid_request"}`, 400)
			return
		}
		if ts.fail.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			io.WriteString(w, `{"error":"internal_failure","error_description":"token service down"}`)
			ts.calls <- false
			return
		}
		n := ts.n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","expires_in":%d,"token_type":"Bearer"}`, n, ts.ttl)
		ts.calls <- true
	}))
	t.Cleanup(ts.Close)
	return ts
}

var testKey = func() []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}()

// writeSA writes a service-account key whose token_uri is tokenURL.
func writeSA(t *testing.T, tokenURL string) string {
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "proj", "private_key_id": "kid1",
		"private_key": string(testKey), "client_email": "router@proj.iam.gserviceaccount.com",
		"client_id": "1", "token_uri": tokenURL,
	})
	p := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(p, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newAdapter(t *testing.T, ts *tokenServer, base string) *Adapter {
	t.Helper()
	a, err := New(context.Background(), config.Upstream{Name: "vtx", Provider: "vertex", BaseURL: base,
		Region: "us-central1", Project: "proj", Auth: config.Auth{CredentialsFile: writeSA(t, ts.URL)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func waitCall(t *testing.T, ts *tokenServer, want bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case got := <-ts.calls:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("no token request with success=%v within the deadline", want)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestPrepare(t *testing.T) {
	ts := newTokenServer(t, 3600)
	a := newAdapter(t, ts, "")
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	body := []byte(`{"model":"google/gemini-2.5-flash","messages":[{"role":"user","content":"hi"}]}`)
	if err := a.Prepare(req, &provider.Call{Endpoint: provider.ChatCompletions, Model: "google/gemini-2.5-flash", Body: body, Stream: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := string(req.URI().FullURI()), "https://us-central1-aiplatform.googleapis.com/v1/projects/proj/locations/us-central1/endpoints/openapi/chat/completions"; got != want {
		t.Fatalf("URL %s", got)
	}
	if got := string(req.Header.Peek("Authorization")); got != "Bearer tok-1" {
		t.Fatalf("Authorization %q", got)
	}
	if string(req.Body()) != string(body) || string(req.Header.Method()) != "POST" || string(req.Header.Peek("Accept")) != "text/event-stream" {
		t.Fatalf("request %s", req)
	}
	if a.Ready() != nil {
		t.Fatal(a.Ready())
	}
	if err := a.Prepare(req, &provider.Call{Endpoint: provider.Embeddings}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("embeddings: %v", err)
	}
	out, _ := a.DecodeJSON(nil, nil, body)
	if &out[0] != &body[0] {
		t.Fatal("DecodeJSON must return the body itself")
	}
}

func TestBaseURLs(t *testing.T) {
	ts := newTokenServer(t, 3600)
	for region, want := range map[string]string{
		"global":       "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints/openapi/chat/completions",
		"europe-west4": "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/endpoints/openapi/chat/completions",
	} {
		a, err := New(context.Background(), config.Upstream{Region: region, Project: "p", Auth: config.Auth{CredentialsFile: writeSA(t, ts.URL)}})
		if err != nil {
			t.Fatal(err)
		}
		if a.url != want {
			t.Errorf("%s: %s", region, a.url)
		}
		a.Close()
	}
}

func TestNewErrors(t *testing.T) {
	ts := newTokenServer(t, 3600)
	ts.fail.Store(true)
	_, err := New(context.Background(), config.Upstream{Region: "r", Project: "p", Auth: config.Auth{CredentialsFile: writeSA(t, ts.URL)}})
	if !errors.Is(err, ErrToken) {
		t.Fatalf("failing token endpoint: %v", err)
	}
	if _, err := New(context.Background(), config.Upstream{Region: "r"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("no project: %v", err)
	}
	if _, err := New(context.Background(), config.Upstream{Region: "r", Project: "p", Auth: config.Auth{CredentialsFile: "/nonexistent"}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("missing file: %v", err)
	}
	// An authorized_user or external_account file is refused, not loaded.
	p := filepath.Join(t.TempDir(), "ext.json")
	os.WriteFile(p, []byte(`{"type":"external_account","audience":"x","subject_token_type":"y","token_url":"`+ts.URL+`","credential_source":{"file":"/etc/hostname"}}`), 0o600)
	if _, err := New(context.Background(), config.Upstream{Region: "r", Project: "p", Auth: config.Auth{CredentialsFile: p}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("external_account: %v", err)
	}
	if err := os.WriteFile(p, []byte(`{"type":"service_account","private_key":"not a key"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), config.Upstream{Region: "r", Project: "p", Auth: config.Auth{CredentialsFile: p}}); err == nil {
		t.Fatal("a key that cannot sign was accepted")
	}
}

// TestBackgroundRefresh: with a 2 s token, the refresher replaces the token
// before it expires and no Prepare fails meanwhile.
func TestBackgroundRefresh(t *testing.T) {
	ts := newTokenServer(t, 2)
	a := newAdapter(t, ts, "http://127.0.0.1:1")
	waitCall(t, ts, true) // the first token, fetched by New
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	c := &provider.Call{Endpoint: provider.ChatCompletions, Body: []byte(`{}`)}
	seen := map[string]bool{}
	deadline := time.Now().Add(15 * time.Second)
	for len(seen) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("saw tokens %v before the deadline", seen)
		}
		if err := a.Prepare(req, c); err != nil {
			t.Fatalf("Prepare failed during refresh: %v", err)
		}
		if err := a.Ready(); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		seen[string(req.Header.Peek("Authorization"))] = true
		select {
		case <-ts.calls:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if a.refreshes.Load() < 2 {
		t.Fatalf("refreshes = %d", a.refreshes.Load())
	}
}

// TestReadyReportsBrokenTokenEndpoint: a failing refresh makes Ready fail
// until a later refresh succeeds.
func TestReadyReportsBrokenTokenEndpoint(t *testing.T) {
	ts := newTokenServer(t, 2)
	a := newAdapter(t, ts, "")
	a.Close() // restart the refresher with a short backoff
	a.closed.Store(false)
	a.minBackoff = 20 * time.Millisecond
	if _, err := a.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Ready() != nil {
		t.Fatal(a.Ready())
	}
	ts.fail.Store(true)
	waitFor(t, "Ready to fail", func() bool { return a.Ready() != nil })
	if err := a.Ready(); !errors.Is(err, ErrToken) || strings.Contains(err.Error(), "tok-") {
		t.Fatalf("Ready = %v", err)
	}
	ts.fail.Store(false)
	waitFor(t, "Ready to recover", func() bool { return a.Ready() == nil })
}

func TestCloseTwice(t *testing.T) {
	ts := newTokenServer(t, 3600)
	a := newAdapter(t, ts, "")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.done:
	default:
		t.Fatal("refresher still running after Close")
	}
}

func TestRefreshIn(t *testing.T) {
	got := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		life, elapsed, want time.Duration
	}{
		{time.Hour, 0, 48 * time.Minute},       // 80% is sooner than 55 min
		{10 * time.Minute, 0, 5 * time.Minute}, // 5 min before expiry
		{6 * time.Minute, 0, 3 * time.Minute},  // never before half the lifetime
		{2 * time.Second, 0, time.Second},      // short test tokens
		{time.Hour, 50 * time.Minute, 0},       // overdue: now
		{time.Hour, 40 * time.Minute, 8 * time.Minute},
	} {
		tok := &token{got: got, expiry: got.Add(tc.life)}
		if w := refreshIn(tok, got.Add(tc.elapsed)); w != tc.want {
			t.Errorf("life %v elapsed %v: %v, want %v", tc.life, tc.elapsed, w, tc.want)
		}
	}
	if w := refreshIn(&token{got: got}, got); w != noExpiryRefresh {
		t.Errorf("no expiry: %v", w)
	}
}

func TestError(t *testing.T) {
	a := &Adapter{}
	cases := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		typ, code  string
		msg        string
		retry      bool
		after      time.Duration
	}{
		{"429 object", 429, "", `{"error":{"code":429,"message":"Resource exhausted. Please try again later.","status":"RESOURCE_EXHAUSTED"}}`,
			"rate_limit_error", "rate_limit_exceeded", "Resource exhausted. Please try again later.", true, 0},
		{"429 array with RetryInfo", 429, "", `[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"28s"}]}}]`,
			"rate_limit_error", "rate_limit_exceeded", "quota", true, 28 * time.Second},
		{"429 daily quota", 429, "", `{"error":{"code":429,"message":"daily","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"36000s"}]}}`,
			"rate_limit_error", "rate_limit_exceeded", "daily", false, 10 * time.Hour},
		{"429 retry-after header", 429, "3", `{"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED"}}`,
			"rate_limit_error", "rate_limit_exceeded", "m", true, 3 * time.Second},
		{"400", 400, "", `{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}`, "invalid_request_error", "INVALID_ARGUMENT", "bad", false, 0},
		{"401", 401, "", `{"error":{"code":401,"message":"auth","status":"UNAUTHENTICATED"}}`, "authentication_error", "UNAUTHENTICATED", "auth", false, 0},
		{"403", 403, "", `{"error":{"code":403,"message":"iam","status":"PERMISSION_DENIED"}}`, "permission_error", "PERMISSION_DENIED", "iam", false, 0},
		{"404 html", 404, "", `<!DOCTYPE html><html><body>Error 404 (Not Found)!!1</body></html>`, "invalid_request_error", "", "vertex returned HTTP 404 with a non-JSON body", false, 0},
		{"500", 500, "", `{"error":{"code":500,"message":"internal","status":"INTERNAL"}}`, "server_error", "INTERNAL", "internal", true, 0},
		{"503 empty", 503, "", ``, "server_error", "", "vertex returned HTTP 503", true, 0},
		{"504", 504, "", `{"error":{"code":504,"message":"deadline","status":"DEADLINE_EXCEEDED"}}`, "server_error", "DEADLINE_EXCEEDED", "deadline", true, 0},
		{"openai-style", 400, "", `{"error":{"message":"bad model","type":"invalid_request_error","param":"model","code":"model_not_found"}}`,
			"invalid_request_error", "model_not_found", "bad model", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h fasthttp.ResponseHeader
			if tc.retryAfter != "" {
				h.Set("Retry-After", tc.retryAfter)
			}
			e := a.Error(tc.status, &h, []byte(tc.body))
			if e.Status != tc.status || e.Type != tc.typ || e.Code != tc.code || e.Message != tc.msg || e.Retryable != tc.retry || e.RetryAfter != tc.after {
				t.Fatalf("got %+v", *e)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	a := &Adapter{}
	body := "data: {\"id\":\"chatcmpl-vtx\",\"object\":\"chat.completion.chunk\",\"model\":\"google/gemini-2.5-flash\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n" +
		"data: [{\"error\":{\"code\":429,\"message\":\"Resource exhausted\",\"status\":\"RESOURCE_EXHAUSTED\"}}]\n\n"
	r := a.Events(&provider.Call{}, strings.NewReader(body))
	var ev provider.Event
	if err := r.Next(&ev); err != nil || !strings.Contains(string(ev.Data), `"content":"Hi"`) {
		t.Fatalf("%v %s", err, ev.Data)
	}
	// Gemini streams wrap google.rpc errors in an array.
	var ae *openai.APIError
	if err := r.Next(&ev); !errors.As(err, &ae) || ae.Status != 429 || ae.Code != "RESOURCE_EXHAUSTED" || !provider.FromAPI(ae).Retryable {
		t.Fatalf("array-wrapped error: %v", err)
	}
	r = a.Events(&provider.Call{}, strings.NewReader("data: {\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}\n\n"))
	if err := r.Next(&ev); !errors.As(err, &ae) || ae.Status != 503 || ae.Code != "UNAVAILABLE" {
		t.Fatalf("in-stream error: %v", err)
	}
}

// TestUnauthorizedIsCredential: a 401 is final for fallback but marked
// Credential, so the attempt loop asks Refresh for a new token.
func TestUnauthorizedIsCredential(t *testing.T) {
	ts := newTokenServer(t, 3600)
	a := newAdapter(t, ts, "")
	e := a.Error(401, nil, []byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
	if e.Retryable || e.Status != 401 || !e.Credential {
		t.Fatalf("%+v", *e)
	}
	if e := a.Error(403, nil, []byte(`{"error":{"code":403,"message":"Permission denied.","status":"PERMISSION_DENIED"}}`)); e.Credential {
		t.Fatalf("403 marked Credential: %+v", *e)
	}
	if provider.RefresherOf(provider.WithResponsesMode(a, provider.ResponsesNative)) == nil {
		t.Fatal("RefresherOf does not see through WithResponsesMode")
	}
}

// holdTokens makes ts's answers wait, once gated is set, until gate is
// closed. Call it before the first request.
func holdTokens(ts *tokenServer) (gate chan struct{}, gated *atomic.Bool) {
	gate, gated = make(chan struct{}), new(atomic.Bool)
	inner := ts.Config.Handler
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gated.Load() {
			<-gate
		}
		inner.ServeHTTP(w, r)
	})
	return gate, gated
}

// TestRefreshSingleFlight: many concurrent Refresh calls after a refusal
// share one token fetch, and all see the new token; a later refusal of an
// attempt begun before that fetch ended fetches nothing; one begun after it
// fetches again.
func TestRefreshSingleFlight(t *testing.T) {
	ts := newTokenServer(t, 3600)
	gate, gated := holdTokens(ts)
	a := newAdapter(t, ts, "")
	waitCall(t, ts, true)
	gated.Store(true)
	since := time.Now()
	const n = 50
	errs := make(chan error, n)
	for range n {
		go func() { errs <- a.Refresh(context.Background(), since) }()
	}
	// The one fetch is held at the token server; callers arriving meanwhile
	// join it, later ones are answered by its outcome.
	waitFor(t, "the fetch to start", a.renew.InFlight)
	close(gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := ts.n.Load(); got != 2 {
		t.Fatalf("%d tokens minted, want 2 (New's and one refresh)", got)
	}
	if h := a.tok.Load().header; h != "Bearer tok-2" {
		t.Fatalf("token %q", h)
	}
	if err := a.Refresh(context.Background(), since); err != nil || ts.n.Load() != 2 {
		t.Fatalf("a refusal from before the fetch fetched again: %v, %d tokens", err, ts.n.Load())
	}
	if err := a.Refresh(context.Background(), time.Now()); err != nil || ts.n.Load() != 3 {
		t.Fatalf("a refusal of the new token did not fetch: %v, %d tokens", err, ts.n.Load())
	}
}

// TestRefreshWaitEndsWithCaller: a caller whose context ends stops waiting;
// the fetch goes on and serves the next caller.
func TestRefreshWaitEndsWithCaller(t *testing.T) {
	ts := newTokenServer(t, 3600)
	gate, gated := holdTokens(ts)
	a := newAdapter(t, ts, "")
	gated.Store(true)
	since := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Refresh(ctx, since); !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh with an ended context = %v", err)
	}
	close(gate)
	if err := a.Refresh(context.Background(), since); err != nil {
		t.Fatal(err)
	}
	if ts.n.Load() != 2 {
		t.Fatalf("%d tokens minted, want 2", ts.n.Load())
	}
}

// TestRefreshFailureIsHeld: a failed fetch is the answer to every refusal
// for a moment, so a down token endpoint is not asked once per request.
func TestRefreshFailureIsHeld(t *testing.T) {
	ts := newTokenServer(t, 3600)
	a := newAdapter(t, ts, "")
	waitCall(t, ts, true)
	ts.fail.Store(true)
	if err := a.Refresh(context.Background(), time.Now()); err == nil {
		t.Fatal("Refresh succeeded against a failing token endpoint")
	}
	waitCall(t, ts, false)
	if err := a.Refresh(context.Background(), time.Now()); err == nil {
		t.Fatal("second Refresh succeeded")
	}
	select {
	case <-ts.calls:
		t.Fatal("a second fetch within the hold")
	default:
	}
	if h := a.tok.Load().header; h != "Bearer tok-1" {
		t.Fatalf("token %q after failed refreshes", h)
	}
}
