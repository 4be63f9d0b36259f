package bedrock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// rotatingCreds is an STS-like source: each Retrieve returns a new session
// token (unless frozen), and counts the calls.
type rotatingCreds struct {
	n      atomic.Int64
	frozen atomic.Bool
	hold   chan struct{} // when non-nil, Retrieve waits on it
}

func (r *rotatingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	if r.hold != nil {
		<-r.hold
	}
	n := r.n.Load()
	if !r.frozen.Load() || n == 0 {
		n = r.n.Add(1)
	}
	return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s", SessionToken: fmt.Sprintf("tok-%d", n),
		CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
}

// chainAdapter is an adapter whose credentials come through an
// aws.CredentialsCache over src, as the default chain's do.
func chainAdapter(t *testing.T, src aws.CredentialsProvider) *Adapter {
	t.Helper()
	a, err := New(config.Upstream{Name: "b", Region: "us-east-1", Auth: config.Auth{AccessKeyID: "x", SecretAccessKey: "y"}})
	if err != nil {
		t.Fatal(err)
	}
	a.creds = aws.NewCredentialsCache(src)
	return a
}

func sessionToken(t *testing.T, a *Adapter) string {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	if err := a.Prepare(req, &provider.Call{Endpoint: provider.ChatCompletions, Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	return string(req.Header.Peek("X-Amz-Security-Token"))
}

// TestRefreshRenewsChainCredentials: after a refusal, the cache is read
// again and the next signature carries the new session token.
func TestRefreshRenewsChainCredentials(t *testing.T) {
	src := &rotatingCreds{}
	a := chainAdapter(t, src)
	if tok := sessionToken(t, a); tok != "tok-1" {
		t.Fatalf("first token %q", tok)
	}
	if err := a.Refresh(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if tok := sessionToken(t, a); tok != "tok-2" {
		t.Fatalf("after Refresh the request is signed with %q", tok)
	}
}

// TestRefreshUnchangedIsFinal: a chain that gives the same credentials back
// is not worth a retry.
func TestRefreshUnchangedIsFinal(t *testing.T) {
	src := &rotatingCreds{}
	src.frozen.Store(true)
	a := chainAdapter(t, src)
	sessionToken(t, a)
	if err := a.Refresh(context.Background(), time.Now()); !errors.Is(err, provider.ErrNotRenewed) {
		t.Fatalf("Refresh = %v, want ErrNotRenewed", err)
	}
}

// TestRefreshStaticIsFinal: keys from the config and Bedrock API keys have no
// newer value; Refresh says so without any work.
func TestRefreshStaticIsFinal(t *testing.T) {
	for _, auth := range []config.Auth{{AccessKeyID: "a", SecretAccessKey: "b", SessionToken: "c"}, {BearerToken: "k"}} {
		a, err := New(config.Upstream{Name: "b", Region: "us-east-1", Auth: auth})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Refresh(context.Background(), time.Now()); !errors.Is(err, provider.ErrNotRenewed) {
			t.Fatalf("%+v: Refresh = %v", auth, err)
		}
	}
}

// TestRefreshSingleFlight: concurrent refusals share one retrieval.
func TestRefreshSingleFlight(t *testing.T) {
	src := &rotatingCreds{}
	a := chainAdapter(t, src)
	sessionToken(t, a)
	since := time.Now()
	src.hold = make(chan struct{})
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- a.Refresh(context.Background(), since) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for !a.renew.InFlight() {
		if time.Now().After(deadline) {
			t.Fatal("no renewal started")
		}
		time.Sleep(time.Millisecond)
	}
	close(src.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := src.n.Load(); got != 2 {
		t.Fatalf("%d retrievals, want 2 (New's and one renewal)", got)
	}
}

// TestExpiredTokenIsCredential: the AWS refusals a new credential can cure
// are marked Credential; a permission refusal is not.
func TestExpiredTokenIsCredential(t *testing.T) {
	a, err := New(config.Upstream{Name: "b", Region: "us-east-1", Auth: config.Auth{BearerToken: "k"}})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]bool{"ExpiredTokenException": true, "UnrecognizedClientException": true,
		"AccessDeniedException": false, "ThrottlingException": false} {
		var h fasthttp.ResponseHeader
		h.Set("x-amzn-ErrorType", code)
		status := 403
		if code == "ThrottlingException" {
			status = 429
		}
		if e := a.Error(status, &h, []byte(`{"message":"m"}`)); e.Credential != want {
			t.Errorf("%s: Credential %v", code, e.Credential)
		}
	}
}
