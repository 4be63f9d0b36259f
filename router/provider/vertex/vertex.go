// Package vertex is the Google Vertex AI adapter. Vertex serves OpenAI chat
// completions at
// {base}/v1/projects/{project}/locations/{region}/endpoints/openapi/chat/completions,
// so bodies and answers pass through untouched; what the adapter owns is the
// URL, the OAuth2 access token and the reading of google.rpc error bodies.
//
// Tokens are minted from a service-account key with golang.org/x/oauth2: New
// fetches the first one, a background goroutine refreshes it well before
// expiry, and Prepare only loads the current token from an atomic pointer. The
// one fetch on a request's path is Refresh, after Vertex refused the token
// (revoked before its expiry): one fetch shared by every refused request.
package vertex

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/switchyard-dev/switchyard/router/config"
	sse "github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// Errors returned by New, Prepare and Ready.
var (
	ErrConfig      = errors.New("vertex: invalid upstream config")
	ErrToken       = errors.New("vertex: no valid access token")
	ErrUnsupported = errors.New("vertex: endpoint not supported")
)

// Scope is the OAuth2 scope Vertex AI requires.
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// Refresh timing. A token is refreshed at 80% of its lifetime or 5 minutes
// before expiry, whichever is sooner, but never before half its lifetime (so a
// very short-lived token does not cause a refresh storm). Failed refreshes are
// retried with exponential backoff.
const (
	refreshFraction = 0.8
	refreshMargin   = 5 * time.Minute
	noExpiryRefresh = 30 * time.Minute // for a token without an expiry
	fetchTimeout    = 30 * time.Second // one token request
	minBackoff      = time.Second
	maxBackoff      = time.Minute
)

// token is one access token as Prepare uses it.
type token struct {
	header string // "Bearer ya29…"
	expiry time.Time
	got    time.Time
}

// Adapter speaks to one Vertex upstream. It is built by New, safe for
// concurrent use, and owns one refresher goroutine that Close stops.
type Adapter struct {
	name         string
	url          string // the chat/completions URL
	responsesURL string // the responses URL

	// newSource builds a fresh, uncached token source. A new source per
	// refresh is how a refresh is forced: oauth2's ReuseTokenSource would hand
	// back the cached token until 10 s before expiry.
	newSource func(ctx context.Context) (oauth2.TokenSource, error)

	tok        atomic.Pointer[token]
	refreshErr atomic.Pointer[error]
	refreshes  atomic.Int64 // successful refreshes, background or Refresh (tests)
	// renew makes fetches single-flight: the refresher's and Refresh's.
	renew provider.Renewal

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// kick tells the refresher that Refresh replaced the token, so it
	// reschedules from the new one. Buffered 1; senders never block.
	kick   chan struct{}
	closed atomic.Bool

	log        *slog.Logger
	now        func() time.Time
	minBackoff time.Duration
}

// New builds the adapter for one configured Vertex upstream, fetches the
// first access token (failing if it cannot) and starts the refresher. ctx
// bounds the first fetch; its values (e.g. an oauth2.HTTPClient) are kept for
// later refreshes, its cancellation is not.
func New(ctx context.Context, u config.Upstream) (*Adapter, error) {
	a, err := build(u)
	if err != nil {
		return nil, err
	}
	return a.start(ctx)
}

// build checks the config and sets everything but the token.
func build(u config.Upstream) (*Adapter, error) {
	if u.Project == "" || u.Region == "" {
		return nil, fmt.Errorf("%w: upstream %q: project and region are required", ErrConfig, u.Name)
	}
	base := u.BaseURL
	if base == "" {
		if u.Region == "global" {
			base = "https://aiplatform.googleapis.com"
		} else {
			base = "https://" + u.Region + "-aiplatform.googleapis.com"
		}
	}
	pu, err := url.Parse(base)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, fmt.Errorf("%w: upstream %q: base_url %q", ErrConfig, u.Name, base)
	}
	openapi := strings.TrimRight(base, "/") + "/v1/projects/" + url.PathEscape(u.Project) +
		"/locations/" + url.PathEscape(u.Region) + "/endpoints/openapi/"
	a := &Adapter{
		name:         u.Name,
		url:          openapi + "chat/completions",
		responsesURL: openapi + "responses",
		log:          slog.Default().With("upstream", u.Name, "provider", "vertex"),
		now:          time.Now,
		minBackoff:   minBackoff,
	}
	if u.Auth.CredentialsFile != "" {
		data, err := os.ReadFile(u.Auth.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("%w: upstream %q: %v", ErrConfig, u.Name, err)
		}
		// Parse once now so a wrong file type or a broken key is a config
		// error at startup; this makes no network call.
		if _, err := google.CredentialsFromJSONWithType(context.Background(), data, google.ServiceAccount, Scope); err != nil {
			return nil, fmt.Errorf("%w: upstream %q: %s: %v", ErrConfig, u.Name, u.Auth.CredentialsFile, err)
		}
		a.newSource = func(ctx context.Context) (oauth2.TokenSource, error) {
			// Only service-account keys are accepted: see docs/RATIONALE.md
			// "Why only service-account keys for Vertex?".
			c, err := google.CredentialsFromJSONWithType(ctx, data, google.ServiceAccount, Scope)
			if err != nil {
				return nil, err
			}
			return c.TokenSource, nil
		}
	} else {
		// Application default credentials (GOOGLE_APPLICATION_CREDENTIALS,
		// gcloud's file, or the metadata server on Google Cloud).
		a.newSource = func(ctx context.Context) (oauth2.TokenSource, error) {
			c, err := google.FindDefaultCredentials(ctx, Scope)
			if err != nil {
				return nil, err
			}
			return c.TokenSource, nil
		}
	}
	return a, nil
}

// start fetches the first token and launches the refresher.
func (a *Adapter) start(ctx context.Context) (*Adapter, error) {
	a.ctx, a.cancel = context.WithCancel(context.WithoutCancel(ctx))
	first, cancel := context.WithTimeout(ctx, fetchTimeout)
	err := a.fetch(first)
	cancel()
	if err != nil {
		a.cancel()
		return nil, fmt.Errorf("%w: upstream %q: first token: %v", ErrToken, a.name, err)
	}
	a.done = make(chan struct{})
	a.kick = make(chan struct{}, 1)
	go a.refresher()
	return a, nil
}

// fetch mints one token and publishes it.
func (a *Adapter) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	src, err := a.newSource(ctx)
	if err != nil {
		return err
	}
	t, err := src.Token()
	if err != nil {
		return err
	}
	if t.AccessToken == "" {
		return errors.New("token endpoint returned an empty access token")
	}
	a.tok.Store(&token{header: "Bearer " + t.AccessToken, expiry: t.Expiry, got: a.now()})
	return nil
}

// refreshIn says how long to wait before refreshing t.
func refreshIn(t *token, now time.Time) time.Duration {
	if t.expiry.IsZero() {
		return noExpiryRefresh
	}
	life := t.expiry.Sub(t.got)
	wait := min(time.Duration(float64(life)*refreshFraction), life-refreshMargin)
	if wait < life/2 {
		wait = life / 2
	}
	return max(t.got.Add(wait).Sub(now), 0)
}

// refresher keeps the token fresh until Close.
func (a *Adapter) refresher() {
	defer close(a.done)
	backoff := a.minBackoff
	var retryIn time.Duration // > 0 while refreshes fail
	for {
		wait := retryIn
		if wait == 0 {
			wait = refreshIn(a.tok.Load(), a.now())
		}
		timer := time.NewTimer(wait)
		select {
		case <-a.ctx.Done():
			timer.Stop()
			return
		case <-a.kick:
			// Refresh got a new token: schedule from it.
			timer.Stop()
			retryIn, backoff = 0, a.minBackoff
			continue
		case <-timer.C:
		}
		err := a.renew.Do(a.ctx, time.Now(), a.refresh)
		if a.ctx.Err() != nil {
			return
		}
		if err != nil {
			// The error comes from the token endpoint (oauth2.RetrieveError
			// carries its error body, never a token); no secret is logged.
			a.log.Warn("vertex token refresh failed", "err", err, "retry_in", backoff)
			e := fmt.Errorf("%w: refresh failed: %v", ErrToken, err)
			a.refreshErr.Store(&e)
			retryIn = backoff
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		if retryIn > 0 {
			a.log.Info("vertex token refresh recovered")
		}
		retryIn, backoff = 0, a.minBackoff
	}
}

// refresh is one fetch through a.renew: a new token replaces the current one
// and clears a failed background refresh's error.
func (a *Adapter) refresh() error {
	if err := a.fetch(a.ctx); err != nil {
		return err
	}
	a.refreshErr.Store(nil)
	a.refreshes.Add(1)
	return nil
}

// Refresh fetches a new token at once after Vertex refused the current one
// on an attempt begun at since (provider.Refresher). Every refused request
// shares one fetch, and one whose attempt began before the last fetch ended
// gets that fetch's token; the background refresher then schedules from it.
func (a *Adapter) Refresh(ctx context.Context, since time.Time) error {
	err := a.renew.Do(ctx, since, a.refresh)
	if err == nil {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
	return err
}

// Provider returns "vertex".
func (a *Adapter) Provider() string { return "vertex" }

// Supports reports true for chat completions and Responses, the operations of Vertex's
// OpenAI-compatible endpoint that this router forwards.
func (a *Adapter) Supports(e provider.Endpoint) bool {
	return e == provider.ChatCompletions || e == provider.Responses
}

// ResponsesMode is native for OpenAI's partner models ("openai/…"), which Vertex serves through
// endpoints/openapi/responses, and translated onto chat/completions for every other model.
func (a *Adapter) ResponsesMode(model string) provider.ResponsesMode {
	if strings.HasPrefix(model, "openai/") {
		return provider.ResponsesNative
	}
	return provider.ResponsesTranslated
}

// Ready is nil while the token is valid and the last refresh succeeded.
func (a *Adapter) Ready() error {
	if p := a.refreshErr.Load(); p != nil {
		return *p
	}
	if t := a.tok.Load(); t == nil || (!t.expiry.IsZero() && !a.now().Before(t.expiry)) {
		return fmt.Errorf("%w: token expired", ErrToken)
	}
	return nil
}

// Close stops the refresher and waits for it. Safe to call twice.
func (a *Adapter) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	a.cancel()
	if a.done != nil {
		<-a.done
	}
	return nil
}

// Prepare writes one attempt. It reads the current token and never fetches
// one; with no valid token it fails fast with ErrToken.
func (a *Adapter) Prepare(req *fasthttp.Request, c *provider.Call) error {
	if !a.Supports(c.Endpoint) {
		return fmt.Errorf("%w: %s", ErrUnsupported, c.Endpoint)
	}
	t := a.tok.Load()
	if t == nil || (!t.expiry.IsZero() && !a.now().Before(t.expiry)) {
		return fmt.Errorf("%w: upstream %q: token expired and not refreshed", ErrToken, a.name)
	}
	req.Header.SetMethod(fasthttp.MethodPost)
	if c.Endpoint == provider.Responses {
		req.SetRequestURI(a.responsesURL)
	} else {
		req.SetRequestURI(a.url)
	}
	req.Header.SetContentType("application/json")
	if c.Stream {
		req.Header.Set(fasthttp.HeaderAccept, "text/event-stream")
	} else {
		req.Header.Set(fasthttp.HeaderAccept, "application/json")
	}
	req.Header.Set(fasthttp.HeaderAuthorization, t.header)
	req.SetBody(c.Body)
	return nil
}

// DecodeJSON returns body untouched: Vertex answers in OpenAI's shape.
func (a *Adapter) DecodeJSON(dst []byte, c *provider.Call, body []byte) ([]byte, error) {
	return body, nil
}

// Events reads Vertex's OpenAI-style SSE stream (named Responses events, without [DONE], on
// the responses endpoint).
func (a *Adapter) Events(c *provider.Call, body io.Reader) provider.EventReader {
	return sse.AcquireSSEReader(body, c == nil || c.Endpoint != provider.Responses)
}
