// Command bare is the ceiling a Switchyard cache hit is measured against in
// bench/load.sh: a fasthttp server whose handler only writes fixed bytes —
// the status, headers and body captured from a real cache hit — and does
// nothing else. Owned by the bench harness; not part of the product.
//
//	bare -listen 127.0.0.1:18190 -headers hit.headers -body hit.body
//
// -headers is the header block as `curl -s -D FILE` writes it (status line
// first). Headers that describe the connection or the framing (Date,
// Content-Length, Transfer-Encoding, Connection, Keep-Alive) are dropped:
// fasthttp writes its own (Date included), exactly as it does for the router.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// errBadHeaders is returned for a header file that is not an HTTP/1.x response head.
var errBadHeaders = errors.New("bare: not an HTTP/1.x response header block")

func main() {
	listen := flag.String("listen", "127.0.0.1:18190", "address to serve on (loopback)")
	headers := flag.String("headers", "", "response header block, as written by curl -D (required)")
	body := flag.String("body", "", "response body file (required)")
	limits := flag.Bool("limits", false, "apply Switchyard's default protective limits (read/write/idle timeouts, 16 KiB header buffer), for a like-for-like ceiling")
	flag.Parse()
	if err := run(*listen, *headers, *body, *limits); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(listen, headersPath, bodyPath string, limits bool) error {
	if headersPath == "" || bodyPath == "" {
		return errors.New("bare: -headers and -body are required")
	}
	head, err := os.ReadFile(headersPath)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(bodyPath)
	if err != nil {
		return err
	}
	var canned fasthttp.Response
	if err := parseHead(head, &canned); err != nil {
		return err
	}
	canned.SetBody(body)

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &fasthttp.Server{
		Handler:               func(ctx *fasthttp.RequestCtx) { canned.CopyTo(&ctx.Response) },
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
	}
	if limits {
		// The values config.ApplyDefaults gives the router.
		srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 30*time.Second, 60*time.Second, 120*time.Second
		srv.ReadBufferSize = 16 << 10
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; srv.Shutdown() }()
	fmt.Printf("bare listening on %s (%d body bytes)\n", ln.Addr(), len(body))
	return srv.Serve(ln)
}

// parseHead fills r's status and headers from a curl -D header block. When
// curl followed interim responses (100 Continue), the last block wins.
func parseHead(head []byte, r *fasthttp.Response) error {
	sc := bufio.NewScanner(bytes.NewReader(head))
	status := false
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "HTTP/1."):
			f := strings.Fields(line)
			if len(f) < 2 {
				return fmt.Errorf("%w: %q", errBadHeaders, line)
			}
			code, err := strconv.Atoi(f[1])
			if err != nil {
				return fmt.Errorf("%w: %q", errBadHeaders, line)
			}
			r.Header.Reset()
			r.SetStatusCode(code)
			status = true
		case line == "":
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || !status {
				return fmt.Errorf("%w: %q", errBadHeaders, line)
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "date", "content-length", "transfer-encoding", "connection", "keep-alive":
				continue
			case "content-type":
				r.Header.SetContentType(strings.TrimSpace(value))
			default:
				r.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %v", errBadHeaders, err)
	}
	if !status {
		return errBadHeaders
	}
	return nil
}
