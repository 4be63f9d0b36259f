package upstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
	"github.com/switchyard-dev/switchyard/router/provider/openai"
)

// overloadSet builds one upstream per base URL, each with a pool of maxConns
// connections, over the real OpenAI adapter.
func overloadSet(t *testing.T, reg *Registry, maxConns int, bases ...string) *Set {
	t.Helper()
	var cfgs []config.Upstream
	for i, b := range bases {
		cfgs = append(cfgs, config.Upstream{Name: string(rune('a' + i)), Provider: "openai", BaseURL: b,
			MaxConns: maxConns, Auth: config.Auth{APIKey: "k"}, Models: map[string]string{"m": "gpt-4o"}})
	}
	s, err := NewSet(cfgs, func(c config.Upstream) (provider.Adapter, error) { return openai.New(c) }, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func startMock(t *testing.T) *mockcloud.Server {
	t.Helper()
	m, err := mockcloud.Start(mockcloud.Options{Provider: mockcloud.OpenAI, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var chatBody = []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)

// hold sends one request to u that the mock answers only after a long delay,
// so it holds one of u's pool connections, and waits until the mock has it.
func hold(t *testing.T, m *mockcloud.Server, u *Upstream) {
	t.Helper()
	m.Inject(mockcloud.Fault{FirstByteDelay: time.Minute})
	before := m.Calls()
	go func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		call := provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o", Body: chatBody}
		if _, err := u.Send(req, resp, &call, time.Now().Add(2*time.Minute), new(Line)); err == nil {
			u.End(0, false)
		}
	}()
	for i := 0; m.Calls() == before; i++ {
		if i > 5000 {
			t.Fatal("the holding request never reached the mock")
		}
		time.Sleep(time.Millisecond)
	}
}

// A full pool is a local overload: the next request is refused within the
// configured wait with a 503 "overloaded" that carries retry-after, and the
// upstream's breaker, error rate and error counters do not move.
func TestPoolFullIsOverload(t *testing.T) {
	m := startMock(t)
	reg := NewRegistry()
	const wait = 50 * time.Millisecond
	reg.SetPoolOptions(PoolOptions{MaxConnWait: wait})
	s := overloadSet(t, reg, 1, m.URL())
	u := s.All[0]
	hold(t, m, u)
	before := u.Snapshot()

	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	call := provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o", Body: chatBody}
	start := time.Now()
	_, err := u.Send(req, resp, &call, time.Now().Add(time.Minute), new(Line))
	took := time.Since(start)
	if err == nil || err.Status != 503 || err.Code != CodeOverloaded || !err.Retryable || err.RetryAfter <= 0 ||
		!errors.Is(err, fasthttp.ErrNoFreeConns) {
		t.Fatalf("full pool: %+v, want the overload error", err)
	}
	if took < wait || took > 20*wait {
		t.Fatalf("overload answered after %v, want about the %v wait", took, wait)
	}
	after := u.Snapshot()
	if after.Errors != before.Errors || after.Failures != before.Failures || after.ErrorRate != before.ErrorRate ||
		after.BreakerOpen || after.Requests != before.Requests || after.InFlight != before.InFlight {
		t.Fatalf("an overload moved the upstream's statistics: before %+v after %+v", before, after)
	}
	if after.Overloads != before.Overloads+1 {
		t.Fatalf("overloads %d, want %d", after.Overloads, before.Overloads+1)
	}
	// Many overloads never open the breaker.
	for range FailuresToOpen + 1 {
		if _, err := u.Send(req, resp, &call, time.Now().Add(time.Minute), new(Line)); err != ErrOverloaded {
			t.Fatalf("full pool: %v", err)
		}
	}
	if !u.Healthy(time.Now().UnixNano()) || u.Snapshot().ErrorRate != before.ErrorRate {
		t.Fatal("overloads took a healthy upstream out of rotation")
	}
}

// sendAttempt is the attempt loop's client in these tests: one exchange,
// its body read and its end recorded, as the router does.
type sendAttempt struct{ served []string }

func (a *sendAttempt) Try(u *Upstream) *provider.Error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	call := provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o", Body: chatBody}
	t0, err := u.Send(req, resp, &call, time.Now().Add(time.Minute), new(Line))
	if err != nil {
		return err
	}
	u.End(time.Since(t0), false)
	a.served = append(a.served, u.Name)
	return nil
}

// When the first cloud's pool is full, Forward takes the request to the next
// cloud with room at once (the overload is not an attempt), and answers the
// overload only when every candidate is full.
func TestForwardPassesOverloadToCloudWithRoom(t *testing.T) {
	full, roomy := startMock(t), startMock(t)
	reg := NewRegistry()
	reg.SetPoolOptions(PoolOptions{MaxConnWait: 20 * time.Millisecond})
	s := overloadSet(t, reg, 1, full.URL(), roomy.URL())
	hold(t, full, s.All[0])

	a := &sendAttempt{}
	p := Policy{MaxAttempts: 1, MaxRetryAfter: 10 * time.Second}
	if err := s.Forward(context.Background(), a, []int{0, 1}, p, time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("forward: %v", err)
	}
	if len(a.served) != 1 || a.served[0] != "b" {
		t.Fatalf("served by %v, want b", a.served)
	}
	if st := s.All[0].Snapshot(); st.Overloads != 1 || st.Errors != 0 || st.ErrorRate != 0 {
		t.Fatalf("the full upstream's statistics: %+v", st)
	}

	hold(t, roomy, s.All[1])
	start := time.Now()
	err := s.Forward(context.Background(), a, []int{0, 1}, p, time.Now().Add(time.Minute))
	if err == nil || err.Code != CodeOverloaded || err.Status != 503 {
		t.Fatalf("every pool full: %v, want the overload error", err)
	}
	if took := time.Since(start); took > OverloadRetryAfter {
		t.Fatalf("the loop waited %v on an overload's retry hint", took)
	}
}
