package bench_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// errNoEvent is returned when a stream ended before its first SSE event.
var errNoEvent = errors.New("bench: stream ended before the first event")

// streaming returns a client like c that hands the body over as a stream as
// soon as the headers are read, so the first event's arrival can be timed.
func streaming(c *fasthttp.HostClient) *fasthttp.HostClient {
	return &fasthttp.HostClient{Addr: c.Addr, Dial: c.Dial, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout, StreamResponseBody: true}
}

// stamp records when the mock produced its answer: the mock calls Reply
// right before it writes the response headers and flushes the first event,
// with no delay in between (ChunkDelay only applies from the second event).
type stamp struct{ at atomic.Int64 }

func (s *stamp) reply(prompt string) string {
	s.at.Store(time.Now().UnixNano())
	return "You said: " + prompt
}

// firstEvent sends req and reads the stream until its first event
// ("\n\n"-terminated) arrived, then drains it. It returns the time from the
// mock's stamp to that arrival and the client-side time to first event.
func firstEvent(c *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response, s *stamp, buf []byte) (fromMock, ttfb time.Duration, err error) {
	prev := s.at.Load()
	start := time.Now()
	if err := c.Do(req, resp); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", c.Addr, err)
	}
	defer resp.CloseBodyStream()
	if resp.StatusCode() != fasthttp.StatusOK {
		return 0, 0, fmt.Errorf("%s: status %d", c.Addr, resp.StatusCode())
	}
	r := resp.BodyStream()
	got := buf[:0]
	for !bytes.Contains(got, []byte("\n\n")) {
		if len(got) == cap(got) {
			return 0, 0, fmt.Errorf("%s: first event longer than %d bytes", c.Addr, cap(got))
		}
		n, err := r.Read(got[len(got):cap(got)])
		got = got[:len(got)+n]
		if err != nil && !bytes.Contains(got, []byte("\n\n")) {
			return 0, 0, fmt.Errorf("%s: %w (%v)", c.Addr, errNoEvent, err)
		}
	}
	at := time.Now()
	if s.at.Load() == prev {
		return 0, 0, fmt.Errorf("%s: the stamped mock did not answer this request", c.Addr)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, 0, fmt.Errorf("%s: draining: %w", c.Addr, err)
	}
	return at.Sub(time.Unix(0, s.at.Load())), at.Sub(start), nil
}

// BenchmarkStreamTTFB measures when the first SSE event of a streamed miss
// reaches the client against when the mock sent it, directly and through the
// router, interleaved in each op (one direct request, then one through the
// router) so both arms see the same machine state.
//
//	go test -run '^$' -bench BenchmarkStreamTTFB -benchmem ./bench/
//
// Metrics (medians over the ops, nanoseconds): direct-first-event-ns and
// switchyard-first-event-ns are mock stamp → first event at the client;
// overhead-ns is their per-op difference (the goal: ≤ 100 µs);
// ttfb-overhead-ns is the same difference of client-side time to first
// event (request written → first event). ns/op covers both requests.
func BenchmarkStreamTTFB(b *testing.B) {
	var s stamp
	ma, mb := startMock(b, s.reply), startMock(b, nil)
	sy := startRouter(b, benchConfig(b, ma, mb))
	direct := streaming(directClient(ma))
	for _, tr := range []string{"inmem", "loopback"} {
		b.Run(tr, func(b *testing.B) {
			via := streaming(sy.client(tr))
			dreq := target{c: direct, body: missSSE, auth: true}.newRequest()
			vreq := target{c: via, body: missSSE}.newRequest()
			defer fasthttp.ReleaseRequest(dreq)
			defer fasthttp.ReleaseRequest(vreq)
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseResponse(resp)
			buf := make([]byte, 0, 4096)
			one := func(c *fasthttp.HostClient, req *fasthttp.Request) (time.Duration, time.Duration) {
				fromMock, ttfb, err := firstEvent(c, req, resp, &s, buf)
				if err != nil {
					b.Fatal(err)
				}
				return fromMock, ttfb
			}
			one(direct, dreq) // dial both connections outside the timer
			one(via, vreq)
			d, v, over, tover := make([]float64, 0, b.N), make([]float64, 0, b.N), make([]float64, 0, b.N), make([]float64, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				df, dt := one(direct, dreq)
				vf, vt := one(via, vreq)
				d, v = append(d, float64(df)), append(v, float64(vf))
				over, tover = append(over, float64(vf-df)), append(tover, float64(vt-dt))
			}
			b.StopTimer()
			b.ReportMetric(median(d), "direct-first-event-ns")
			b.ReportMetric(median(v), "switchyard-first-event-ns")
			b.ReportMetric(median(over), "overhead-ns")
			b.ReportMetric(median(tover), "ttfb-overhead-ns")
		})
	}
}

// median sorts xs in place and returns its middle value.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
