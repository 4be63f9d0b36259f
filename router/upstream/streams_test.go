package upstream

import (
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	sse "github.com/switchyard-dev/switchyard/router/openai"
	"github.com/switchyard-dev/switchyard/router/provider"
)

// With the default pool, 2,000 concurrent streams of about a second each
// through one upstream all complete: a stream holds its connection for its
// whole life, so the pool must not be a small keep-alive reserve (issue 16;
// the old default of 512 connections broke every stream past the 512th).
func TestTwoThousandStreamsDefaultPool(t *testing.T) {
	const streams, pieces = 2000, 10
	m, err := mockcloud.Start(mockcloud.Options{Provider: mockcloud.OpenAI, APIKey: "k", ChunkDelay: 100 * time.Millisecond,
		Reply: func(string) string { return "one two three four five six seven eight nine ten" }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := overloadSet(t, NewRegistry(), 0, m.URL()) // max_conns 0: the default
	u := s.All[0]
	if u.Client.MaxConns < 10000 {
		t.Fatalf("default pool holds %d connections, want room for 10,000 streams", u.Client.MaxConns)
	}
	body := []byte(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	deadline := time.Now().Add(2 * time.Minute)
	var done, short atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			call := provider.Call{Endpoint: provider.ChatCompletions, Model: "gpt-4o", Stream: true, Body: body}
			var line Line
			t0, perr := u.Send(req, resp, &call, deadline, &line)
			if perr != nil {
				firstErr.CompareAndSwap(nil, perr.Error())
				return
			}
			defer func() { resp.CloseBodyStream(); line.Finish(resp, false) }()
			r := sse.AcquireSSEReader(resp.BodyStream(), true)
			var ev sse.Event
			n := 0
			for {
				err := r.Next(&ev)
				if err == io.EOF {
					break
				}
				if err != nil {
					u.End(time.Since(t0), true)
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				n++
			}
			u.End(time.Since(t0), false)
			if n < pieces {
				short.Add(1)
			}
			done.Add(1)
		}()
	}
	wg.Wait()
	if done.Load() != streams || short.Load() != 0 {
		t.Fatalf("%d of %d streams completed, %d short; first error: %v", done.Load(), streams, short.Load(), firstErr.Load())
	}
	if st := u.Snapshot(); st.Errors != 0 || st.Overloads != 0 || st.InFlight != 0 || st.Requests != streams {
		t.Fatalf("statistics after the streams: %+v", st)
	}
}
