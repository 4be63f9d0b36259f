package upstream

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// A Line is one request's hold on the upstream connection its current
// attempt runs on, so that another goroutine can cut the call at once: the
// request's client went away, and nobody else needs the answer (issue 11).
//
// Why our own transport? fasthttp's HostClient takes no context and exposes
// the connection of an exchange to nobody, so a call waiting for a slow first
// byte could only end at its deadline — minutes, for a reasoning model. The
// transport below is fasthttp's own exchange (acquire a pooled connection,
// write the request, read the header) written with HostClient's exported
// pieces, with one addition: the connection is registered on the Line while
// it is in use, and Cancel closes it. A streamed body keeps the connection
// (and its read buffer) on the Line until Finish, which also decides whether
// the connection goes back to the pool. The default transport wraps each
// streamed body in a reader and two closures; a Line lives in the pooled
// exchange, so a stream's exchange allocates nothing.
//
// A Line is used by one request at a time (Reset between requests); Cancel
// may be called from any goroutine.
type Line struct {
	deadline time.Time

	mu        sync.Mutex
	cancelled bool
	hc        *fasthttp.HostClient
	cc        any // the *fasthttp.clientConn in use (an unexported type: see withConn)
	conn      net.Conn
	br        *bufio.Reader // the connection's pooled reader while a body streams
	body      Body          // a streamed 2xx answer's body (resp's body stream)
}

// Body is the streamed body of the answer in hand: its event loop reads it
// without waiting (Body.SetNonBlocking). Valid until Finish.
func (l *Line) Body() *Body { return &l.body }

// ErrCancelled is what an attempt on a cancelled Line returns.
var ErrCancelled = errors.New("upstream call cancelled: the client went away")

// lineKey is the request user value that carries an attempt's Line to the
// transport.
type lineKey struct{}

// Reset readies l for a new request.
func (l *Line) Reset() {
	l.mu.Lock()
	l.cancelled = false
	l.mu.Unlock()
}

// Cancel cuts the call in progress, if any, and makes every later attempt on
// l fail with ErrCancelled until Reset. The connection is closed while l's
// lock is held, so it can never be one already handed back to the pool.
func (l *Line) Cancel() {
	l.mu.Lock()
	l.cancelled = true
	if l.conn != nil {
		l.conn.Close()
	}
	l.mu.Unlock()
}

// Cancelled reports whether Cancel was called since the last Reset.
func (l *Line) Cancelled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cancelled
}

// Finish ends the attempt's hold on its connection, after the caller closed
// resp's body stream: the connection goes back to the pool when reuse is true
// (the body was read to its end and the cloud did not ask to close it), or is
// closed. Finish on a Line that holds nothing does nothing.
func (l *Line) Finish(resp *fasthttp.Response, reuse bool) {
	l.mu.Lock()
	hc, cc, br := l.hc, l.cc, l.br
	reuse = reuse && !l.cancelled && !resp.ConnectionClose() && l.body.reusable()
	l.hc, l.cc, l.conn, l.br = nil, nil, nil, nil
	l.body.SetNonBlocking(false)
	l.body = Body{}
	l.mu.Unlock()
	if hc == nil {
		return
	}
	if br != nil {
		hc.ReleaseReader(br)
	}
	if reuse {
		withConn(cc, hc.ReleaseConn)
	} else {
		withConn(cc, hc.CloseConn)
	}
}

// withConn calls f with v as the type f takes: how a value of fasthttp's
// unexported clientConn type is kept in a field (as any) and handed back to
// HostClient's methods, which take it typed.
func withConn[C any](v any, f func(C)) { f(v.(C)) }

// attach registers the connection an attempt is about to use, or reports
// that the Line was cancelled (the caller then closes the connection).
func (l *Line) attach(hc *fasthttp.HostClient, cc any, conn net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancelled {
		return false
	}
	l.hc, l.cc, l.conn = hc, cc, conn
	return true
}

// transport is the HostClient transport of every upstream pool: requests
// sent with a Line (Send) go through Line.roundTrip; any other request (none
// in the router; tools and tests may use a pool directly) through fasthttp's
// default.
type transport struct{}

func (transport) RoundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	l, _ := req.UserValue(lineKey{}).(*Line)
	if l == nil {
		return fasthttp.DefaultTransport.RoundTrip(hc, req, resp)
	}
	return false, l.roundTrip(hc, req, resp)
}

// roundTrip is one HTTP exchange: fasthttp's default transport (client.go,
// transport.RoundTrip) with the connection registered on l, and a streamed
// body's connection kept until Finish. The read deadline passes through the
// pool's ttfbConn, which bounds the wait for the first byte.
func (l *Line) roundTrip(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) error {
	timeout := time.Until(l.deadline)
	if timeout <= 0 {
		return fasthttp.ErrTimeout
	}
	cc, err := hc.AcquireConn(timeout, req.ConnectionClose())
	if err != nil {
		return err
	}
	conn := cc.Conn()
	if !l.attach(hc, cc, conn) {
		hc.CloseConn(cc)
		return ErrCancelled
	}
	fail := func(err error) error {
		l.Finish(resp, false)
		if l.Cancelled() {
			return ErrCancelled
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fasthttp.ErrTimeout
		}
		return err
	}
	resp.ParseNetConn(conn)
	if err := conn.SetWriteDeadline(l.deadline); err != nil {
		return fail(err)
	}
	bw := hc.AcquireWriter(conn)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	hc.ReleaseWriter(bw)
	if err != nil {
		return fail(err)
	}
	if err := conn.SetReadDeadline(l.deadline); err != nil {
		return fail(err)
	}
	if hc.DisableHeaderNamesNormalizing {
		resp.Header.DisableNormalizing()
	}
	br := hc.AcquireReader(conn)
	if err := resp.ReadLimitBody(br, hc.MaxResponseBodySize); err != nil {
		hc.ReleaseReader(br)
		return fail(err)
	}
	if resp.StreamBody && resp.BodyStream() != nil {
		// The body is read through br (until it is empty: see Body) and then
		// from the connection, until Finish. A streamed 2xx answer is read by
		// our own decoder; an error's body by fasthttp's.
		l.mu.Lock()
		l.br = br
		l.mu.Unlock()
		if code := resp.StatusCode(); code >= 200 && code <= 299 {
			n := resp.Header.ContentLength()
			resp.CloseBodyStream() // fasthttp's stream reader, which has read nothing yet
			l.body.reset(l, conn, n)
			resp.SetBodyStream(&l.body, -1)
		}
		return nil
	}
	hc.ReleaseReader(br)
	l.Finish(resp, !req.ConnectionClose())
	return nil
}
