package provider

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Refresher is implemented by adapters whose credential can be renewed while
// the process runs: Vertex (a new OAuth2 access token) and Bedrock over the
// default AWS chain (the credentials cache invalidated and read again). When
// an attempt fails with Error.Credential set, the attempt loop calls Refresh
// and, on nil, tries the same upstream once more within the same request,
// before any fallback (docs/RATIONALE.md "Why refresh a refused credential
// within the request, and only when it changed?").
type Refresher interface {
	// Refresh renews the credential after the cloud refused it on an
	// attempt begun at since. It returns nil only when the adapter now holds
	// a credential other than the one that attempt carried (a new one, or
	// one another request's refresh obtained after since), so a retry is
	// worth making; ErrNotRenewed when the source gave the same credential
	// back, or the fetch's error. Concurrent calls share one fetch. ctx
	// bounds the wait, not the fetch: a fetch outlives a caller that left.
	Refresh(ctx context.Context, since time.Time) error
}

// ErrNotRenewed is Refresh's answer when the credential's source has nothing
// newer than the credential the cloud refused (a static key, an unchanged
// credentials chain): retrying would be refused the same way.
var ErrNotRenewed = errors.New("provider: credential source has no newer credential")

// RefresherOf returns a's Refresher, looking through WithResponsesMode's
// wrapper, or nil when the adapter's credential cannot be renewed.
func RefresherOf(a Adapter) Refresher {
	if o, ok := a.(responsesOverride); ok {
		a = o.Adapter
	}
	r, _ := a.(Refresher)
	return r
}

// failedRenewalHold is how long a failed or fruitless renewal's answer is
// reused by later refusals before the source is asked again: a token
// endpoint that is down, or a static key, must not be asked once per request.
const failedRenewalHold = time.Second

// Renewal makes an adapter's credential renewals single-flight: however many
// requests see the credential refused at once, one fetch runs, and every
// refusal of an attempt begun before the last renewal finished is answered by
// that renewal's outcome without a fetch of its own. The zero value is ready.
type Renewal struct {
	mu     sync.Mutex
	flight *renewal
	last   *renewal // the last finished renewal
}

// renewal is one fetch; done is closed when err and at are set.
type renewal struct {
	done chan struct{}
	err  error
	at   time.Time // when it finished
}

// Do renews the credential with fetch unless a renewal that finished after
// since already answers, or one is in flight (then it waits for that one).
// fetch runs on its own goroutine, detached from ctx, and returns nil when it
// published a new credential, ErrNotRenewed when the source gave the same one,
// or its error. A failed renewal's outcome is reused for failedRenewalHold.
func (r *Renewal) Do(ctx context.Context, since time.Time, fetch func() error) error {
	r.mu.Lock()
	if l := r.last; l != nil && (l.at.After(since) || (l.err != nil && time.Now().Sub(l.at) < failedRenewalHold)) {
		r.mu.Unlock()
		return l.err
	}
	f := r.flight
	if f == nil {
		f = &renewal{done: make(chan struct{})}
		r.flight = f
		go r.run(f, fetch)
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InFlight reports whether a renewal is under way (tests).
func (r *Renewal) InFlight() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flight != nil
}

func (r *Renewal) run(f *renewal, fetch func() error) {
	err := fetch()
	r.mu.Lock()
	f.err, f.at = err, time.Now()
	r.flight, r.last = nil, f
	r.mu.Unlock()
	close(f.done)
}
