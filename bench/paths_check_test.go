package bench_test

import (
	"bytes"
	"strings"
	"testing"
)

// TestPaths guards the benchmarks' premises: every path they time answers
// 200 with the answer its name promises. A benchmark of a path that quietly
// returned an error body, a miss instead of a hit, or an unredacted upstream
// request would report figures for the wrong thing.
func TestPaths(t *testing.T) {
	p := buildPaths(t)
	for _, tr := range []string{"inmem", "loopback"} {
		for _, nt := range p.targets(tr) {
			t.Run(tr+"/"+nt.name, func(t *testing.T) {
				resp := nt.t.warm(t) // checks status and the cache header
				body := resp.Body()
				sse := bytes.Equal(nt.t.body, hitSSE) || bytes.Equal(nt.t.body, missSSE)
				switch {
				case sse && (sseEvents(body) < 3 || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n"))):
					t.Fatalf("not a complete SSE stream:\n%s", body)
				case !sse && !bytes.Contains(body, []byte(`"object":"chat.completion"`)):
					t.Fatalf("not a chat completion: %s", body)
				}
				if bytes.Equal(nt.t.body, redactJSON) && !bytes.Contains(body, []byte("jane.doe@example.com")) {
					t.Fatalf("the address was not restored in the answer: %s", body)
				}
			})
		}
	}
}

// TestRedactedPathHidesAddress checks that the redaction benchmarks measure
// real redaction: the mock behind the router never sees the address.
func TestRedactedPathHidesAddress(t *testing.T) {
	ma, mb := startMock(t, nil), startMock(t, nil)
	sy := startRouter(t, benchConfig(t, ma, mb, cRoute(t), redact(t)))
	target{c: sy.inmem, body: redactJSON}.once(t)
	seen := ma.LastRequest().Body
	if mb.Calls() > 0 {
		seen = append(seen, mb.LastRequest().Body...)
	}
	if len(seen) == 0 || strings.Contains(string(seen), "jane.doe@example.com") || !strings.Contains(string(seen), "<EMAIL_1>") {
		t.Fatalf("upstream saw %s", seen)
	}
}
