package wasm

import (
	"cmp"
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/switchyard-dev/switchyard/plugins"
)

// TestHostilePluginsUnderLoad is the standing table of hostile modules, each
// driven by 64 goroutines through a Set's chain under both failure
// policies. Each must be contained: no panic; a failure is "no opinion" (open,
// and counted as skipped) or a 503 *plugins.Error (closed) with nothing
// appended — a failed redactor never lets its input through as if redacted;
// afterwards the pool is full again with no instance in use, and closing the
// set leaves no goroutine behind.
func TestHostilePluginsUnderLoad(t *testing.T) {
	const workers = 64
	redactBodies := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e"), []byte("f"), []byte("g"), []byte("ok"), []byte("{}")}
	for _, tc := range []struct {
		name    string
		fixture string
		kind    plugins.Kind
		mod     func(*Config)
		bodies  [][]byte // redact inputs, by call number
		tokens  int      // route: prompt_tokens cycle over 0..tokens-1
		calls   int      // per goroutine; 0 = 12 (heavy fixtures fewer: each failure starts an instance)
	}{
		{name: "oob route results and bad indices", fixture: "oob", kind: plugins.KindRoute, tokens: 9},
		{name: "oob redact records", fixture: "oob", kind: plugins.KindRedact, bodies: redactBodies},
		{name: "trap every third call", fixture: "third", kind: plugins.KindRoute, tokens: 1},
		{name: "memory growth to the limit", fixture: "bomb", kind: plugins.KindRoute, tokens: 2, mod: func(c *Config) { c.MaxMemory = 4 << 20 }, calls: 4},
		{name: "random_get bomb", fixture: "randbomb", kind: plugins.KindRoute, tokens: 1, calls: 3},
		{name: "log flood", fixture: "logflood", kind: plugins.KindRoute, tokens: 1},
		{name: "bad pointers to host imports", fixture: "hostptr", kind: plugins.KindRoute, tokens: 1},
		{name: "100,000 placeholder pairs", fixture: "manypairs", kind: plugins.KindRedact, bodies: [][]byte{[]byte(`{"model":"m"}`)}, calls: 4},
		{name: "invalid JSON or no model", fixture: "badjson", kind: plugins.KindRedact, bodies: [][]byte{[]byte(`j{"model":"m"}`), []byte(`{"model":"m","messages":[]}`)}},
	} {
		for _, onError := range []plugins.OnError{plugins.OnErrorOpen, plugins.OnErrorClosed} {
			t.Run(tc.name+"/"+onError.String(), func(t *testing.T) {
				calls := cmp.Or(tc.calls, 12)
				if raceOn { // the race detector slows host code about tenfold
					calls = max(1, calls/4)
				}
				before := runtime.NumGoroutine()
				c := Config{Name: tc.fixture, Wasm: fixture(tc.fixture), Kind: tc.kind, OnError: onError, PoolSize: 4}
				if tc.mod != nil {
					tc.mod(&c)
				}
				s, err := NewSet(context.Background(), []Config{c}, manual())
				if err != nil {
					t.Fatal(err)
				}
				p := s.Plugins()[0]
				router, redactor := s.Router(nil), s.Redactor(nil)
				var wg sync.WaitGroup
				var mu sync.Mutex
				var failures int
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx, ups := context.Background(), testUpstreams()
						for i := range calls {
							n := w*calls + i
							var err error
							var appended int
							if tc.kind == plugins.KindRoute {
								var got []int
								got, err = router.Route(ctx, testRequest(int32(n%tc.tokens)), ups, []int{7})
								appended = len(got) - 1
							} else {
								v := plugins.AcquireVault()
								var out []byte
								out, err = redactor.Redact(ctx, tc.bodies[n%len(tc.bodies)], []byte("pre:"), v)
								appended = len(out) - 4
								if err != nil && v.Len() != 0 {
									t.Errorf("failed redact left %d pairs in the vault", v.Len())
								}
								plugins.ReleaseVault(v)
							}
							if err == nil {
								continue
							}
							var pe *plugins.Error
							if onError == plugins.OnErrorOpen || !errors.As(err, &pe) || pe.Status != 503 || pe.Code != "plugin_failed" {
								t.Errorf("call %d: %v under on_error %s", n, err, onError)
							}
							if appended != 0 {
								t.Errorf("call %d failed but appended %d", n, appended)
							}
							mu.Lock()
							failures++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				waitFor(t, "the pool to be full and idle", func() bool {
					st := p.Stats()
					return st.Instances == c.PoolSize && st.InUse == 0
				})
				st := s.Stats(nil)[0]
				if onError == plugins.OnErrorOpen && st.Skipped != st.Failures {
					t.Errorf("skipped %d, failures %d", st.Skipped, st.Failures)
				}
				if onError == plugins.OnErrorClosed && uint64(failures) != st.Failures {
					t.Errorf("%d failed requests, %d failures counted", failures, st.Failures)
				}
				s.Close()
				<-p.Done()
				waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
			})
		}
	}
	// A module whose init loops is refused at load, leaving nothing running.
	before := runtime.NumGoroutine()
	if _, err := NewSet(context.Background(), []Config{{Name: "il", Wasm: fixture("initloop"), PoolSize: 2}}, manual()); !errors.Is(err, ErrInit) {
		t.Fatalf("NewSet(initloop) = %v, want ErrInit", err)
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}
