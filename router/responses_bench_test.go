package router_test

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/router/config"
)

// BenchmarkTranslatedTTFB measures the time to the first streamed event
// through the router, on one Bedrock Converse upstream (chat only), for a
// native chat stream and for a Responses stream translated onto it, in the
// same run: the difference is the translation's cost at the start of a
// stream (the request's translation plus response.created and in_progress).
//
//	go test -run '^$' -bench BenchmarkTranslatedTTFB ./router/
func BenchmarkTranslatedTTFB(b *testing.B) {
	u, _ := bedrockUpstream(b, "up", "converse", "test-secret")
	u.Models = map[string]string{"gpt-4o-mini": "openai.gpt-oss-20b-1:0"}
	base, _ := startRouter(b, &config.Config{Upstreams: []config.Upstream{u}, Cache: config.Cache{Policy: "off"}})
	addr := strings.TrimPrefix(base, "http://")
	for _, bc := range []struct{ name, path, body string }{
		{"chat-native", "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello from the benchmark"}]}`},
		{"responses-translated", "/v1/responses", `{"model":"gpt-4o-mini","stream":true,"input":"Hello from the benchmark"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := "POST " + bc.path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
				itoa(len(bc.body)) + "\r\n\r\n" + bc.body
			var total time.Duration
			for range b.N {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				c.Write([]byte(req))
				r := bufio.NewReader(c)
				for { // headers, then the first event's blank line
					line, err := r.ReadSlice('\n')
					if err != nil {
						b.Fatal(err)
					}
					if bytes.HasPrefix(line, []byte("data: ")) {
						break
					}
				}
				total += time.Since(t0)
				c.Close()
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs-ttfb")
		})
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
