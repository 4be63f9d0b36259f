package upstream

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
	"github.com/switchyard-dev/switchyard/router/provider"
)

type stubAdapter struct{ provider.Adapter }

func (stubAdapter) Provider() string { return "openai" }
func (stubAdapter) Ready() error     { return nil }
func (stubAdapter) Close() error     { return nil }

func newSet(t *testing.T, weights ...int) *Set {
	t.Helper()
	var cfgs []config.Upstream
	for i, w := range weights {
		cfgs = append(cfgs, config.Upstream{Name: string(rune('a' + i)), BaseURL: "http://127.0.0.1:1", Weight: w,
			Models: map[string]string{"m": "m"}})
	}
	s, err := NewSet(cfgs, func(config.Upstream) (provider.Adapter, error) { return stubAdapter{}, nil }, NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDefaultOrder(t *testing.T) {
	// No weights: configured order is the priority order.
	s := newSet(t, 0, 0, 0)
	if got := s.DefaultOrder([]byte("m"), nil); len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
		t.Fatalf("priority order %v", got)
	}
	// Weights split the primary; weight-0 upstreams are fallbacks only.
	s = newSet(t, 0, 3, 1)
	counts := map[int]int{}
	for range 4000 {
		got := s.DefaultOrder([]byte("m"), nil)
		if len(got) != 3 {
			t.Fatal(got)
		}
		counts[got[0]]++
	}
	if counts[0] != 0 || counts[1] < 2600 || counts[1] > 3400 || counts[2] < 600 || counts[2] > 1400 {
		t.Fatalf("primary draws %v, want ≈ 0/3000/1000", counts)
	}
	// An upstream whose breaker opened goes last.
	for range FailuresToOpen {
		s.All[1].Begin()
		s.All[1].End(time.Millisecond, true)
	}
	for range 50 {
		if got := s.DefaultOrder([]byte("m"), nil); got[len(got)-1] != 1 || got[0] == 1 {
			t.Fatalf("unhealthy not last: %v", got)
		}
	}
	// A success closes the breaker.
	s.All[1].Begin()
	s.All[1].End(time.Millisecond, false)
	if !s.All[1].Healthy(time.Now().UnixNano()) {
		t.Fatal("breaker still open after a success")
	}
	s.All[2].CoolFor(time.Hour)
	if s.All[2].Healthy(time.Now().UnixNano()) {
		t.Fatal("a retry-after hint did not cool the upstream")
	}
	if s.Serving([]byte("other")) != nil {
		t.Fatal("serves an unknown model")
	}
}

// The first byte of every answer must arrive within the bound; once it has,
// the exchange's own (longer) deadline applies.
func TestTTFBConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &ttfbConn{Conn: a, ttfb: 50 * time.Millisecond}
	c.SetReadDeadline(time.Now().Add(time.Hour))
	buf := make([]byte, 4)
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("slow first byte: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(time.Hour))
	go func() {
		b.Write([]byte("x"))
		time.Sleep(100 * time.Millisecond) // longer than the first-byte bound
		b.Write([]byte("y"))
	}()
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		t.Fatalf("later bytes were held to the first-byte bound: %v", err)
	}
}

func TestNewClientAddr(t *testing.T) {
	for url, want := range map[string]string{"https://api.openai.com": "api.openai.com:443", "http://127.0.0.1:9": "127.0.0.1:9", "http://localhost": "localhost:80"} {
		c, err := NewClient(config.Upstream{}, url)
		if err != nil || c.Addr != want || c.IsTLS != (want == "api.openai.com:443") {
			t.Fatalf("%s: %v %+v", url, err, c)
		}
	}
	if _, err := NewClient(config.Upstream{}, "::bad"); err == nil {
		t.Fatal("bad URL accepted")
	}
	var _ fasthttp.DialFunc = dialer(time.Second)
}

// Statistics and pools belong to the process: a second Set (the next config
// generation) of the same upstream sees the first one's counters and breaker,
// and shares its pool while the connection settings are unchanged.
func TestRegistryOutlivesSets(t *testing.T) {
	reg := NewRegistry()
	build := func(base string) *Set {
		s, err := NewSet([]config.Upstream{{Name: "a", BaseURL: base, Models: map[string]string{"m": "m"}}},
			func(config.Upstream) (provider.Adapter, error) { return stubAdapter{}, nil }, reg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := build("http://127.0.0.1:1")
	for range FailuresToOpen {
		first.All[0].Begin()
		first.All[0].End(time.Millisecond, true)
	}
	second := build("http://127.0.0.1:1")
	if second.All[0].Stats != first.All[0].Stats || second.All[0].Client != first.All[0].Client {
		t.Fatal("a new generation did not reuse the upstream's statistics and pool")
	}
	if st := second.All[0].Stats.Snapshot(); st.Requests != FailuresToOpen || !st.BreakerOpen {
		t.Fatalf("statistics lost across generations: %+v", st)
	}
	third := build("http://127.0.0.1:2") // moved: a new pool, the same statistics
	if third.All[0].Client == second.All[0].Client || third.All[0].Stats != first.All[0].Stats {
		t.Fatal("a changed base_url must get a new pool and keep the statistics")
	}
	first.Close()
	first.Close() // safe twice
	second.Close()
	third.Close()
}
