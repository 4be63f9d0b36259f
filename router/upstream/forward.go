package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// Policy bounds the attempt loop of one request.
type Policy struct {
	// MaxAttempts caps attempts per request (primary + fallbacks).
	MaxAttempts int
	// MaxRetryAfter is the longest retry hint the loop waits for before the
	// next attempt; a longer hint makes that upstream skipped.
	MaxRetryAfter time.Duration
}

// MaxCoolDown caps how long a cloud's retry hint (retry-after, retry-after-ms,
// google.rpc.RetryInfo) keeps an upstream out of the default order, and the
// retry-after the router repeats to its client.
const MaxCoolDown = time.Minute

// Attempt is one request's side of the attempt loop: Try makes one attempt on
// u and reports nil when the client's answer is settled (an answer is in hand),
// or the failure, whose Retryable says whether the next candidate may be
// tried.
type Attempt interface {
	Try(u *Upstream) *provider.Error
}

// ErrUnavailable is the failure when no candidate could even be tried.
var ErrUnavailable = &provider.Error{Status: 502, Type: "api_error", Code: "upstream_unavailable",
	Message: "No upstream could serve the request."}

// ErrClientGone is the failure of an attempt cut because its client went
// away (Line.Cancel). Not retryable, and not the upstream's failure. The
// status is nginx's 499, which only logs and metrics ever see.
var ErrClientGone = &provider.Error{Status: 499, Type: "api_error", Code: "client_closed_request", Err: ErrCancelled,
	Message: "The client closed the request before the answer arrived."}

// CodeOverloaded is the code of ErrOverloaded.
const CodeOverloaded = "overloaded"

// OverloadRetryAfter is the retry-after of ErrOverloaded: long streams free
// their connections in seconds.
const OverloadRetryAfter = time.Second

// ErrOverloaded is the failure of an attempt whose pool had no free
// connection within PoolOptions.MaxConnWait: a local overload, answered as
// 503 with retry-after. It is Retryable so that the attempt loop tries another
// cloud with room, and it is never recorded as the upstream's failure.
var ErrOverloaded = &provider.Error{Status: 503, Type: "api_error", Code: CodeOverloaded, Retryable: true,
	RetryAfter: OverloadRetryAfter, Err: fasthttp.ErrNoFreeConns,
	Message: "The router is at its capacity for this model; retry shortly."}

// Forward tries the candidates (indices into s.All) in order until one
// answers: fallback on retryable failures, the clouds' retry hints honoured
// within the deadline (preferring another candidate over waiting), at most
// p.MaxAttempts attempts. An attempt refused locally (ErrOverloaded: the
// pool was full) does not count as an attempt, and its retry hint is not
// waited for: the next candidate is tried at once. An attempt whose
// credential the cloud refused (Error.Credential) is made once more on the
// same upstream, before any fallback, if the adapter renewed the credential
// (see renewed); that repeat does not count as an attempt either, and happens
// at most once per request, so a second refusal is final. It returns nil once
// an attempt succeeded, else the last failure. ctx ends the waits (client
// gone, deadline).
func (s *Set) Forward(ctx context.Context, a Attempt, cands []int, p Policy, deadline time.Time) *provider.Error {
	var last *provider.Error
	attempts := 0
	renewal := false
	for ci := 0; ci < len(cands) && attempts < p.MaxAttempts; ci++ {
		u := s.All[cands[ci]]
		if wait := time.Until(u.CoolUntil()); wait > 0 {
			// The cloud asked us to wait. Prefer another candidate; wait only
			// when this is the last one and the wait fits the limits.
			if ci+1 < len(cands) || wait > p.MaxRetryAfter || time.Now().Add(wait).After(deadline) {
				if last == nil {
					last = &provider.Error{Status: 429, Type: "rate_limit_error", Code: "rate_limit_exceeded",
						Message: "Upstream " + u.Name + " asked to retry later.", Retryable: true, RetryAfter: wait}
				}
				continue
			}
			if !sleep(ctx, wait) {
				break
			}
		}
		attempts++
		began := time.Now()
		err := a.Try(u)
		if err == nil {
			return nil
		}
		if err.Code == CodeOverloaded {
			attempts--
			if last == nil || last.Code == CodeOverloaded {
				last = err
			}
			continue
		}
		last = err
		if err.Credential && !renewal {
			renewal = true
			if renewed(ctx, u, began, deadline) {
				attempts--
				ci--
				continue
			}
		}
		if !err.Retryable {
			break
		}
		if ci+1 == len(cands) && attempts < p.MaxAttempts && err.RetryAfter > 0 && err.RetryAfter <= p.MaxRetryAfter &&
			time.Now().Add(err.RetryAfter).Before(deadline) {
			// The only (or last) candidate asked for a short wait: honour it and try again.
			if !sleep(ctx, err.RetryAfter) {
				break
			}
			ci--
		}
	}
	if last == nil {
		return ErrUnavailable
	}
	return last
}

// renewed asks u's adapter, if its credential can be renewed
// (provider.Refresher), for a credential newer than the one the cloud refused
// on the attempt begun at began, and reports whether it has one, so the same
// upstream is worth one more attempt. The wait is bounded by the request's
// deadline; the outcome is counted in u's statistics.
func renewed(ctx context.Context, u *Upstream, began, deadline time.Time) bool {
	r := provider.RefresherOf(u.Adapter)
	if r == nil {
		return false
	}
	// The request's own context already ends at its deadline; wrapping it
	// would start a goroutine that outlives the request (context.WithDeadline
	// watches a parent of a type it does not know from one).
	if d, ok := ctx.Deadline(); !ok || d.After(deadline) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	err := r.Refresh(ctx, began)
	u.Renewal(err == nil)
	return err == nil
}

// sleep waits d or until ctx ends, and reports whether it waited the whole d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Send makes one HTTP exchange for call: the adapter prepares (and signs) req,
// the pool sends it, and a non-2xx answer is classified by the adapter. On
// success resp holds the 2xx answer (a body stream when call.Stream) and the
// attempt is still open: the caller records its end with End. On failure the
// attempt is recorded, the retry hint noted, and the error says whether another
// attempt may succeed. t0 is when the request was sent.
//
// The call runs on l (see Line): Cancel on l cuts it at once, and the
// attempt then fails with ErrClientGone. A streamed answer holds its
// connection on l until l.Finish.
func (u *Upstream) Send(req *fasthttp.Request, resp *fasthttp.Response, call *provider.Call, deadline time.Time, l *Line) (t0 time.Time, _ *provider.Error) {
	if err := u.Adapter.Prepare(req, call); err != nil {
		if errors.Is(err, provider.ErrInvalidRequest) {
			// This cloud cannot take the request; another candidate may.
			return t0, &provider.Error{Status: 400, Type: "invalid_request_error", Code: "unsupported_by_upstream",
				Message: "Upstream " + u.Name + " cannot serve this request: " + err.Error(), Retryable: true, Err: err}
		}
		return t0, &provider.Error{Status: 502, Type: "api_error", Code: "upstream_config",
			Message: "Upstream " + u.Name + " could not be addressed.", Retryable: true, Err: err}
	}
	// Streams are read incrementally; JSON answers are read whole into the
	// response's pooled buffer (no per-request reader objects).
	resp.StreamBody = call.Stream
	l.deadline = deadline
	req.SetUserValue(lineKey{}, l)
	t0 = time.Now()
	u.Begin()
	if err := u.Client.DoDeadline(req, resp, deadline); err != nil {
		if errors.Is(err, fasthttp.ErrNoFreeConns) {
			u.Overloaded()
			return t0, ErrOverloaded
		}
		if errors.Is(err, ErrCancelled) {
			u.Abandoned()
			return t0, ErrClientGone
		}
		u.End(time.Since(t0), true)
		return t0, TransportError(err)
	}
	status := resp.StatusCode()
	if status >= 200 && status <= 299 {
		return t0, nil
	}
	errBody := resp.Body()
	if call.Stream {
		errBody, _ = readAtMost(resp, 64<<10)
	}
	e := u.Adapter.Error(status, &resp.Header, errBody)
	u.End(time.Since(t0), e.Retryable)
	// A cloud's hint is capped: one 429 with "retry-after: 100000000" must not
	// take the upstream out of rotation for years (issue 15).
	e.RetryAfter = min(e.RetryAfter, MaxCoolDown)
	u.CoolFor(e.RetryAfter)
	return t0, e
}

// readAtMost reads up to n bytes of a streamed error body.
func readAtMost(resp *fasthttp.Response, n int64) ([]byte, error) {
	r := resp.BodyStream()
	if r == nil {
		return resp.Body(), nil
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(io.LimitReader(r, n))
	return buf.Bytes(), err
}

// TransportError classifies a failed attempt that got no answer at all.
func TransportError(err error) *provider.Error {
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || (errors.As(err, &ne) && ne.Timeout()) {
		return &provider.Error{Status: 504, Type: "api_error", Code: "upstream_timeout",
			Message: "The upstream did not answer in time.", Retryable: true, Err: err}
	}
	return &provider.Error{Status: 502, Type: "api_error", Code: "upstream_unavailable",
		Message: "The upstream connection failed before an answer arrived.", Retryable: true, Err: err}
}
