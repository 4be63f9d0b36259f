package upstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/router/provider"
)

// renewingAdapter is a stub whose credential Refresh renews (or not).
type renewingAdapter struct {
	stubAdapter
	renew   error
	refresh int
}

func (r *renewingAdapter) Refresh(context.Context, time.Time) error { r.refresh++; return r.renew }

// scriptedAttempt answers each Try with the next error of its script (nil
// is an answer) and records which upstream it was made on.
type scriptedAttempt struct {
	script []*provider.Error
	tried  []string
}

func (a *scriptedAttempt) Try(u *Upstream) *provider.Error {
	a.tried = append(a.tried, u.Name)
	if len(a.tried) > len(a.script) {
		return nil
	}
	return a.script[len(a.tried)-1]
}

func refused() *provider.Error {
	return &provider.Error{Status: 401, Code: "invalid_api_key", Message: "expired", Credential: true}
}

func TestForwardRenewsRefusedCredential(t *testing.T) {
	p := Policy{MaxAttempts: 1, MaxRetryAfter: time.Second}
	deadline := time.Now().Add(time.Minute)
	cases := []struct {
		name      string
		renew     error
		refresher bool
		script    []*provider.Error
		want      int // status of Forward's answer, 0 = answered
		tried     string
		refreshes int
	}{
		// The same upstream again, before the fallback, even at MaxAttempts 1.
		{"renewed", nil, true, []*provider.Error{refused()}, 0, "aa", 1},
		// A second refusal is final: no loop, no fallback.
		{"refused twice", nil, true, []*provider.Error{refused(), refused()}, 401, "aa", 1},
		// Nothing newer: the refusal is final.
		{"not renewed", provider.ErrNotRenewed, true, []*provider.Error{refused()}, 401, "a", 1},
		// An adapter without a renewable credential.
		{"static key", nil, false, []*provider.Error{refused()}, 401, "a", 0},
		// A 403 permission refusal is not a credential refusal.
		{"permission", nil, true, []*provider.Error{{Status: 403, Message: "no"}}, 403, "a", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSet(t, 0, 0)
			ra := &renewingAdapter{renew: c.renew}
			if c.refresher {
				s.All[0].Adapter = ra
			}
			a := &scriptedAttempt{script: c.script}
			err := s.Forward(context.Background(), a, []int{0, 1}, p, deadline)
			switch {
			case c.want == 0 && err != nil:
				t.Fatalf("Forward = %v", err)
			case c.want != 0 && (err == nil || err.Status != c.want):
				t.Fatalf("Forward = %v, want %d", err, c.want)
			}
			if got := strings.Join(a.tried, ""); got != c.tried {
				t.Fatalf("tried %q, want %q", got, c.tried)
			}
			if ra.refresh != c.refreshes {
				t.Fatalf("%d refreshes, want %d", ra.refresh, c.refreshes)
			}
			st := s.All[0].Snapshot()
			if c.refreshes > 0 && st.Renewals+st.Unrenewed != 1 {
				t.Fatalf("renewal not counted: %+v", st)
			}
		})
	}
}
