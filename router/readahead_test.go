package router_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchyard-dev/switchyard/router/config"
)

// The client connection's read-ahead (router/readahead.go) loses no byte:
// pipelined requests that arrive in one read, and a request whose headers are
// larger than the read-ahead buffer, are each answered.
func TestReadAheadKeepsEveryByte(t *testing.T) {
	base, _ := startRouter(t, &config.Config{Upstreams: []config.Upstream{openaiUpstream("up", openaiMock(t))}})
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	big := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 9000) + "\r\n\r\n"
	small := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := c.Write([]byte(small + small + big + small)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var resp fasthttp.Response
	for i := range 4 {
		if err := resp.Read(br); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if resp.StatusCode() != 200 {
			t.Fatalf("response %d: status %d %s", i, resp.StatusCode(), resp.Body())
		}
	}
}
