package upstream

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchyard-dev/switchyard/router/openai"
)

// selfSigned is a throwaway certificate for a loopback TLS pair.
func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// chunked frames parts as a chunked body with an extension and a trailer.
func chunked(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i == 1 {
			b.WriteString(strings.ToUpper(hexOf(len(p))) + ";ext=1\r\n")
		} else {
			b.WriteString(hexOf(len(p)) + "\r\n")
		}
		b.WriteString(p + "\r\n")
	}
	return b.String() + "0\r\nX-Trailer: t\r\n\r\n"
}

func hexOf(n int) string {
	const digits = "0123456789abcdef"
	if n == 0 {
		return "0"
	}
	var s []byte
	for ; n > 0; n >>= 4 {
		s = append([]byte{digits[n&15]}, s...)
	}
	return string(s)
}

// tcpPair is a loopback connection: the router's end (dialed through the
// pool's dialer, so non-blocking reads work) and the peer's.
func tcpPair(t *testing.T) (*ttfbConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); acc <- c }()
	c, err := dialer(0)(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-acc
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c.(*ttfbConn), peer
}

// Every framing the decoder meets — sizes in either case, an extension, a
// trailer, a sized body, a body up to the close — decodes to the same bytes
// whatever the reads are cut into, one byte at a time included.
func TestBodyDecodesWhateverTheReads(t *testing.T) {
	parts := []string{"data: {\"a\":1}\n\n", strings.Repeat("x", 300), "data: [DONE]\n\n"}
	want := strings.Join(parts, "")
	cases := []struct {
		name string
		wire string
		cl   int
	}{
		{"chunked", chunked(parts...), -1},
		{"sized", want, len(want)},
		{"to close", want, -2},
	}
	for _, c := range cases {
		for _, step := range []int{1, 2, 7, 64, 4096} {
			a, b := net.Pipe()
			go func() {
				for i := 0; i < len(c.wire); i += step {
					b.Write([]byte(c.wire[i:min(i+step, len(c.wire))]))
				}
				b.Close()
			}()
			var l Line
			l.body.reset(&l, a, c.cl)
			got, err := io.ReadAll(&l.body)
			a.Close()
			if err != nil || string(got) != want {
				t.Fatalf("%s, writes of %d: %q, %v", c.name, step, got, err)
			}
			if !l.body.reusable() != (c.cl == -2) {
				t.Fatalf("%s: reusable %v", c.name, l.body.reusable())
			}
		}
	}
}

// A chunked body cut before its terminator is an unexpected end, and broken
// framing is an error, never data.
func TestBodyRefusesBrokenFraming(t *testing.T) {
	for wire, want := range map[string]error{
		"5\r\nhello\r\n":            io.ErrUnexpectedEOF,
		"zz\r\nhello\r\n0\r\n\r\n":  errBadChunk,
		"5\r\nhelloXX0\r\n\r\n":     errBadChunk,
		"\r\nhello":                 errBadChunk,
		"ffffffffffffff\r\nhello\r": errBadChunk,
	} {
		a, b := net.Pipe()
		go func() { b.Write([]byte(wire)); b.Close() }()
		var l Line
		l.body.reset(&l, a, -1)
		_, err := io.ReadAll(&l.body)
		a.Close()
		if !errors.Is(err, want) {
			t.Fatalf("%q: %v, want %v", wire, err, want)
		}
	}
}

// In non-blocking mode a read never waits: an empty socket is ErrWouldBlock
// at any byte of the framing, and the read goes on where it stopped once
// Readable says bytes came. A short read is trusted to have emptied the
// socket: the next read is ErrWouldBlock without a system call.
func TestBodyNonBlockingResumesAnywhere(t *testing.T) {
	parts := []string{"data: one\n\n", strings.Repeat("y", 100), "data: [DONE]\n\n"}
	wire := chunked(parts...)
	c, peer := tcpPair(t)
	var l Line
	l.body.reset(&l, c, -1)
	if !l.body.SetNonBlocking(true) || l.body.Fd() < 0 {
		t.Fatal("a TCP connection cannot be read without waiting")
	}
	var got bytes.Buffer
	buf := make([]byte, 64)
	for i := 0; i < len(wire); i++ {
		if _, err := l.body.Read(buf); err != openai.ErrWouldBlock {
			t.Fatalf("byte %d: read of an empty socket: %v", i, err)
		}
		peer.Write([]byte{wire[i]})
		waitUnread(t, c.fd, 1)
		if _, err := l.body.Read(buf); err != openai.ErrWouldBlock {
			t.Fatalf("byte %d: a drained socket was read again: %v", i, err)
		}
		l.body.Readable()
		n, err := l.body.Read(buf)
		got.Write(buf[:n])
		switch {
		case err == io.EOF && i == len(wire)-1:
		case err == nil && n == 1:
		case err == openai.ErrWouldBlock && n == 0: // framing
		default:
			t.Fatalf("byte %d (%q): %d, %v", i, wire[i], n, err)
		}
		waitUnread(t, c.fd, 0)
	}
	if got.String() != strings.Join(parts, "") {
		t.Fatalf("got %q", got.String())
	}
	if !l.body.reusable() {
		t.Fatal("a body read to its end is not reusable")
	}
}

// waitUnread waits (bounded) until the socket holds exactly n unread bytes.
func waitUnread(t *testing.T, fd, n int) {
	t.Helper()
	for range 5000 {
		if k, err := unix.IoctlGetInt(fd, unix.SIOCINQ); err == nil && k == n {
			return
		}
		time.Sleep(time.Millisecond) // polling the kernel's count: no event to wait on
	}
	t.Fatalf("the socket never held %d unread bytes", n)
}

// Over TLS too: the would-block passes up through crypto/tls without
// breaking the connection, records split anywhere.
func TestBodyNonBlockingOverTLS(t *testing.T) {
	c, peer := tcpPair(t)
	cert := selfSigned(t)
	srv := tls.Server(peer, &tls.Config{Certificates: []tls.Certificate{cert}})
	cli := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	go srv.Handshake()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	wire := chunked("data: secret one\n\n", "data: [DONE]\n\n")
	var l Line
	l.body.reset(&l, cli, -1)
	if !l.body.SetNonBlocking(true) {
		t.Fatal("a TLS connection over TCP cannot be read without waiting")
	}
	buf := make([]byte, 256)
	if _, err := l.body.Read(buf); err != openai.ErrWouldBlock {
		t.Fatalf("empty: %v", err)
	}
	go func() {
		srv.Write([]byte(wire[:7]))
		srv.Write([]byte(wire[7:]))
	}()
	var got bytes.Buffer
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		l.body.Readable()
		n, err := l.body.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil && err != openai.ErrWouldBlock {
			t.Fatal(err)
		}
	}
	if got.String() != "data: secret one\n\ndata: [DONE]\n\n" {
		t.Fatalf("got %q", got.String())
	}
}

// FuzzBodyChunked feeds arbitrary bytes, cut into arbitrary reads, through
// the chunk decoder: it never panics or returns more bytes than it was
// given, and a body it frames itself decodes back to the data.
func FuzzBodyChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), []byte("data"), uint8(3))
	f.Add([]byte("zz\r\n"), []byte(""), uint8(1))
	f.Fuzz(func(t *testing.T, wire, data []byte, step uint8) {
		n := int(step%16) + 1
		read := func(in []byte) ([]byte, error) {
			a, b := net.Pipe()
			defer a.Close()
			go func() {
				for i := 0; i < len(in); i += n {
					if _, err := b.Write(in[i:min(i+n, len(in))]); err != nil {
						break
					}
				}
				b.Close()
			}()
			var l Line
			l.body.reset(&l, a, -1)
			out, err := io.ReadAll(&l.body)
			return out, err
		}
		if out, _ := read(wire); len(out) > len(wire) {
			t.Fatalf("decoded %d bytes from %d", len(out), len(wire))
		}
		var parts []string
		for len(data) > 0 {
			k := min(len(data), n*7)
			parts = append(parts, string(data[:k]))
			data = data[k:]
		}
		out, err := read([]byte(chunked(parts...)))
		if err != nil || string(out) != strings.Join(parts, "") {
			t.Fatalf("round trip: %q, %v", out, err)
		}
	})
}
