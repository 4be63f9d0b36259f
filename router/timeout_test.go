package router_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

// A primary whose first byte is slower than its upstream timeout is abandoned
// for the fallback, in both modes.
func TestSlowFirstByteFallsBack(t *testing.T) {
	for _, stream := range []bool{false, true} {
		primary, fallback := openaiMock(t), azureMock(t)
		p := openaiUpstream("slow", primary)
		p.Timeout = 200 * time.Millisecond
		base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{p, azureUpstream("fast", fallback, "v1")}})
		primary.Inject(mockcloud.Fault{FirstByteDelay: 3 * time.Second})
		c := client(base)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if stream {
			s := c.Chat.Completions.NewStreaming(ctx, hello)
			for s.Next() {
			}
			if s.Err() != nil {
				t.Fatal(s.Err())
			}
		} else if _, err := c.Chat.Completions.New(ctx, hello); err != nil {
			t.Fatal(err)
		}
		cancel()
		if fallback.Calls() != 1 {
			t.Fatalf("stream=%v: fallback calls %d", stream, fallback.Calls())
		}
	}
}

// The request deadline really ends the upstream call: the client gets a 504
// in OpenAI's shape instead of waiting for the slow cloud.
func TestRequestDeadline(t *testing.T) {
	m := openaiMock(t)
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", m)},
		Limits: config.Limits{RequestTimeout: 300 * time.Millisecond}})
	m.Inject(mockcloud.Fault{Latency: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	c := client(base)
	_, err := c.Chat.Completions.New(ctx, hello)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 504 {
		t.Fatalf("err %v", err)
	}
}

// A long stream outlives the time-to-first-byte bound: only the first byte is
// bounded by the upstream timeout.
func TestLongStreamOutlivesTTFB(t *testing.T) {
	m := startMock(t, mockcloud.Options{Provider: "openai", APIKey: "sk-test", ChunkDelay: 60 * time.Millisecond})
	p := openaiUpstream("up", m)
	p.Timeout = 100 * time.Millisecond
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{p}})
	c := client(base)
	s := c.Chat.Completions.NewStreaming(context.Background(), hello)
	n := 0
	for s.Next() {
		n++
	}
	if s.Err() != nil || n < 4 {
		t.Fatalf("stream cut: %v after %d chunks", s.Err(), n)
	}
}
