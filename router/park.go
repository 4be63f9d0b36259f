//go:build linux

package router

import (
	"errors"
	"net"
	"os"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchyard-dev/switchyard/router/internal/nbio"
	"github.com/switchyard-dev/switchyard/router/openai"
)

// This file parks live streams (issue 16). A stream spends its life waiting
// for the cloud's next event; one goroutine per stream, parked in a read,
// held its stack (8 KiB at best), fasthttp's write buffer and the upstream
// connection's read buffer for minutes, and woke the scheduler twice per
// event. A parked stream is instead a registration in an event loop — the
// way nginx holds its streams — and costs only its state.
//
// When a stream commits (respond), the relay hijacks the client connection
// from fasthttp and hands the stream to one of the instance's loops, which
// writes the response head and every event. A loop waits on an epoll
// set holding both sockets of every stream it parks, edge-triggered: the
// cloud's socket for readable, the client's for writable and hung up. When
// the cloud's socket is readable, the loop reads what it holds (non-blocking:
// upstream.Body and openai.SSEReader stop anywhere with ErrWouldBlock and go
// on from there), relays every complete event in it in one chunked write,
// and moves on; nothing in the loop ever waits. A client that cannot take a
// write keeps the rest in a backlog and its stream stops reading the cloud
// until the client drains it (backpressure); a client that hangs up ends its
// stream at once (or, when coalesced waiters or the cache fill still need
// the answer, its stream reads on without writing).
//
// The hijack handler's goroutine waits until the loop ends the stream and
// then does its closing work in plain blocking code. Why that goroutine, and
// why the loop's epoll set is waited on through Go's netpoller: RATIONALE.md
// "Why does a parked stream still have a goroutine?" and "Why is the loop's
// epoll set waited on through Go's netpoller?".

// sweepEvery is how often a loop looks at every parked stream for what no
// socket event reports: a request past its deadline (its body is expired:
// the next read fails as a blocking one would, and the stream ends with an
// error event),
// a client that has not taken a write for write_timeout, and a stream whose
// client left once nobody else needs the answer.
const sweepEvery = 250 * time.Millisecond

// chunkHead is the room kept before a write's events for its chunk size line
// (up to 8 hex digits and CR LF).
const chunkHead = 10

// maxBatch bounds the events relayed in one write: a stream whose cloud
// sends faster than the loop can go round still lets the others take turns.
const maxBatch = 32 << 10

// parker is the instance's set of event loops.
type parker struct {
	in    *Instance
	loops []*parkLoop
	next  atomic.Uint32
}

// newParker starts n loops (0: one per processor), or returns nil — streams
// then stay on their goroutines — when n is negative (limits.stream_loops:
// -1) or epoll cannot be set up.
func newParker(in *Instance, n int) *parker {
	if n < 0 {
		return nil
	}
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &parker{in: in}
	for range n {
		l, err := newParkLoop(in)
		if err != nil {
			in.log.Warn("streams are not parked: the event loop cannot start", "err", err)
			p.close()
			return nil
		}
		p.loops = append(p.loops, l)
	}
	return p
}

func (p *parker) close() {
	if p == nil {
		return
	}
	for _, l := range p.loops {
		l.close()
	}
}

// pick spreads streams over the loops.
func (p *parker) pick() *parkLoop {
	return p.loops[int(p.next.Add(1))%len(p.loops)]
}

// parked is a relay's state while its stream is parked.
type parked struct {
	slot     int32
	tag      uint32
	upFd     int
	clientFd int
	upReady  bool          // the cloud's socket may hold bytes
	head     bool          // the response head and first event are still to be written
	gone     bool          // the client hung up or stopped reading
	backlog  *[]byte       // bytes the client has not taken yet
	since    int64         // unix nanos: when the backlog began
	wake     chan struct{} // the loop ended the stream (buffered, reused)
}

// writeNow writes b to the client without waiting: the bytes taken, or an
// error when the client is gone (a write that would wait takes 0 bytes). The
// descriptor is written directly: a parked client connection is the loop's
// alone (see upstream's ttfbConn.readNow).
func (p *parked) writeNow(b []byte) (int, error) {
	n, e := nbio.Write(p.clientFd, b)
	switch {
	case e == syscall.EAGAIN:
		return 0, nil
	case e != 0:
		return 0, e
	}
	return n, nil
}

type parkLoop struct {
	in   *Instance
	epfd int
	file *os.File
	raw  syscall.RawConn

	mu     sync.Mutex // slots, free, tags, closed; held by the loop while it handles events
	slots  []*streamRelay
	free   []int32
	tag    uint32
	closed bool
	done   chan struct{}

	// the loop goroutine's own
	events    [256]syscall.EpollEvent
	out       []byte
	nextSweep time.Time
	waitFn    func(fd uintptr) bool // l.wait, bound once
	n         int
	werr      error
}

// wait takes the ready events without waiting; false (none) makes the
// runtime's poller wait for the epoll descriptor to be readable.
func (l *parkLoop) wait(fd uintptr) bool {
	n, e := nbio.EpollWaitNow(int(fd), l.events[:])
	l.n, l.werr = n, nil
	if e != 0 {
		l.werr = e
	}
	return l.n > 0 || l.werr != nil
}

func newParkLoop(in *Instance) (*parkLoop, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "switchyard-park")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &parkLoop{in: in, epfd: fd, file: f, raw: raw, done: make(chan struct{}), out: make([]byte, 0, maxBatch+4<<10)}
	l.waitFn = l.wait
	// A pollable file: a deadline wakes the loop for its sweep.
	if err := f.SetReadDeadline(time.Now().Add(sweepEvery)); err != nil {
		f.Close()
		return nil, errors.New("epoll descriptor is not pollable: " + err.Error())
	}
	l.nextSweep = time.Now().Add(sweepEvery)
	go l.run()
	return l, nil
}

// close ends every stream still parked (their clients see the stream cut)
// and stops the loop.
func (l *parkLoop) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.file.SetReadDeadline(time.Now()) // wake it
	<-l.done
	l.file.Close()
}

// add parks r's stream on l. It reports false when the loop is closing or a
// socket cannot be registered; r then stays with its goroutine.
func (l *parkLoop) add(r *streamRelay) bool {
	p := &r.park
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	var slot int32
	if n := len(l.free); n > 0 {
		slot = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		slot = int32(len(l.slots))
		l.slots = append(l.slots, nil)
	}
	l.tag++
	// upReady: the loop's first look at the stream reads what the cloud sent
	// since the relay committed (and writes the head and first event).
	p.slot, p.tag, p.upReady = slot, l.tag&(1<<31-1), true
	up := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: slot, Pad: int32(p.tag << 1)}
	if syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, p.upFd, &up) != nil {
		l.free = append(l.free, slot)
		return false
	}
	// The client's EPOLLOUT is reported at once (its socket has room): the
	// loop's first look at the stream, which reads what the cloud sent since.
	cl := syscall.EpollEvent{Events: syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET, Fd: slot, Pad: int32(p.tag<<1 | 1)}
	if syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, p.clientFd, &cl) != nil {
		syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, p.upFd, nil)
		l.free = append(l.free, slot)
		return false
	}
	l.slots[slot] = r
	l.in.load.parked.Add(1)
	return true
}

// epollET is EPOLLET as the uint32 EpollEvent.Events holds (syscall declares
// it negative).
const epollET = 1 << 31

func (l *parkLoop) run() {
	defer close(l.done)
	for {
		l.n, l.werr = 0, nil
		err := l.raw.Read(l.waitFn)
		n, werr := l.n, l.werr
		l.mu.Lock()
		if l.closed {
			l.endAll()
			l.mu.Unlock()
			return
		}
		if err == nil && werr == nil {
			for i := range l.events[:n] {
				l.handle(&l.events[i])
			}
		}
		now := time.Now()
		if err != nil || !now.Before(l.nextSweep) {
			l.sweep(now)
			l.nextSweep = now.Add(sweepEvery)
			l.file.SetReadDeadline(l.nextSweep)
		}
		l.mu.Unlock()
		if werr != nil {
			l.in.log.Error("stream event loop: epoll_wait failed", "err", werr)
		}
	}
}

// handle takes one socket event.
func (l *parkLoop) handle(ev *syscall.EpollEvent) {
	slot := ev.Fd
	if slot < 0 || int(slot) >= len(l.slots) {
		return
	}
	r := l.slots[slot]
	if r == nil || int32(r.park.tag<<1) != ev.Pad&^1 {
		return // the stream ended earlier in this batch
	}
	p := &r.park
	if ev.Pad&1 == 0 {
		p.upReady = true
		r.x.line.Body().Readable()
	} else if ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && !l.clientGone(r) {
		return
	}
	l.pump(r)
}

// pump relays what r's cloud has sent until its socket is empty, the client
// stops taking writes, or the stream ends.
func (l *parkLoop) pump(r *streamRelay) {
	p := &r.park
	for {
		// Once a call below has ended the stream (end), r belongs to its
		// goroutine again: nothing here may touch it after that.
		if p.backlog != nil {
			if drained, live := l.flush(r); !drained || !live {
				return
			}
		}
		if !p.upReady {
			return
		}
		buf, start := l.out[:0], 0
		if p.head {
			// The response head, and the first event (read before the
			// relay committed: advance returns it without reading).
			buf = r.x.ctx.Response.Header.AppendBytes(buf)
			start, p.head = len(buf), false
			r.x.ttft = time.Since(r.x.start)
		}
		buf = append(buf, chunkRoom[:]...)
		err := r.advance()
		if err == openai.ErrWouldBlock {
			p.upReady = false
			return
		}
		buf = r.emit(buf, err)
		for len(buf) < maxBatch && r.buffered() {
			err := r.advance()
			if err == openai.ErrWouldBlock {
				p.upReady = false
				break
			}
			buf = r.emit(buf, err)
		}
		finished := r.finished
		if finished {
			buf = append(buf, lastChunk...)
		}
		l.out = buf[:0]
		if !p.gone {
			if out := frameChunk(buf, start, finished); len(out) > 0 && !l.write(r, out) {
				return
			}
		}
		if finished {
			if p.backlog == nil || p.gone {
				l.end(r)
			}
			return
		}
		if p.gone && !r.x.answerNeeded() {
			l.end(r)
			return
		}
	}
}

// write writes out to r's client without waiting; what the client's socket
// cannot take now goes to the backlog. It reports false when the stream
// ended (its client is gone).
func (l *parkLoop) write(r *streamRelay, out []byte) bool {
	p := &r.park
	n, err := p.writeNow(out)
	if err != nil {
		return l.clientGone(r)
	}
	if n == len(out) { // (no x.wrote: the watcher does not watch a parked stream)
		return true
	}
	b := backlogPool.Get().(*[]byte)
	*b = append((*b)[:0], out[n:]...)
	p.backlog, p.since = b, time.Now().UnixNano()
	return true
}

// flush writes r's backlog: drained reports whether it is all written, live
// whether the stream goes on (its client is there and it has not ended).
func (l *parkLoop) flush(r *streamRelay) (drained, live bool) {
	p := &r.park
	b := *p.backlog
	n, err := p.writeNow(b)
	if err != nil {
		live = l.clientGone(r)
		return live, live // a client gone drops the backlog
	}
	if n < len(b) {
		*p.backlog = b[:copy(b, b[n:])]
		return false, true
	}
	l.dropBacklog(p)
	if r.finished {
		l.end(r)
		return true, false
	}
	return true, true
}

func (l *parkLoop) dropBacklog(p *parked) {
	if p.backlog == nil {
		return
	}
	if cap(*p.backlog) <= 64<<10 {
		backlogPool.Put(p.backlog)
	}
	p.backlog = nil
}

var backlogPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// clientGone marks r's client as gone (it hung up, a write failed, or it
// stopped reading): the stream ends now, or reads on without writing while
// coalesced waiters or the cache fill need the answer (issue 11). It reports
// whether the stream goes on.
func (l *parkLoop) clientGone(r *streamRelay) bool {
	p := &r.park
	if p.gone {
		return true
	}
	p.gone = true
	l.dropBacklog(p)
	r.x.clientLeft()
	if r.finished || !r.x.answerNeeded() {
		l.end(r)
		return false
	}
	p.upReady = true // read on for the others
	return true
}

// sweep looks at every parked stream for what sockets do not report.
func (l *parkLoop) sweep(now time.Time) {
	t := now.UnixNano()
	stall := int64(l.in.limits.WriteTimeout)
	for _, r := range l.slots {
		if r == nil {
			continue
		}
		p := &r.park
		switch {
		case p.backlog != nil && stall > 0 && t-p.since > stall:
			l.clientGone(r) // it stopped reading: cut within write_timeout, as a blocked write would be
		case p.gone && !r.x.answerNeeded():
			l.end(r)
		case now.After(r.x.deadline):
			// The read fails as a blocking one past the connection's
			// deadline would: the stream ends with an error event.
			r.x.line.Body().Expire()
			p.upReady = true
			l.pump(r)
		}
	}
}

// end takes r off the loop and wakes its goroutine, which closes the stream.
func (l *parkLoop) end(r *streamRelay) {
	p := &r.park
	if l.slots[p.slot] != r {
		return
	}
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, p.upFd, nil)
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, p.clientFd, nil)
	l.slots[p.slot] = nil
	l.free = append(l.free, p.slot)
	l.in.load.parked.Add(-1)
	l.dropBacklog(p)
	p.wake <- struct{}{}
}

// endAll ends every parked stream (the instance is closing): each is cut.
func (l *parkLoop) endAll() {
	for _, r := range l.slots {
		if r != nil {
			r.park.gone = true
			l.end(r)
		}
	}
}

var chunkRoom [chunkHead]byte

// lastChunk ends a chunked body.
var lastChunk = []byte("0\r\n\r\n")

// frameChunk frames the events in buf[start+chunkHead:] as one HTTP chunk,
// keeping buf[:start] (a response head) before it, and returns the bytes to
// write. With last set, buf ends with lastChunk, which stays outside the
// chunk. It returns nil when there is nothing to write; an empty chunk would
// end the body.
func frameChunk(buf []byte, start int, last bool) []byte {
	end := len(buf)
	if last {
		end -= len(lastChunk)
	}
	size := end - start - chunkHead
	if size == 0 {
		if start == 0 && !last {
			return nil
		}
		// The head, the terminator or both, without a chunk.
		copy(buf[chunkHead:], buf[:start])
		return append(buf[chunkHead:end], buf[end:]...)
	}
	var hex [chunkHead]byte
	digits := appendHex(hex[:0], size)
	shift := chunkHead - len(digits) - 2
	copy(buf[shift:], buf[:start])
	copy(buf[start+shift:], digits)
	buf[start+chunkHead-2], buf[start+chunkHead-1] = '\r', '\n'
	if last {
		// Room for the chunk's CR LF before the terminator.
		buf = append(buf, 0, 0)
		copy(buf[end+2:], buf[end:len(buf)-2])
		buf[end], buf[end+1] = '\r', '\n'
		return buf[shift:]
	}
	return append(buf[shift:], '\r', '\n')
}

// parkable returns the client connection when r's stream can be parked:
// the client is a plain HTTP/1.1 socket, the cloud's body can be read without
// waiting, and its events come from a reader that can stop anywhere; nil
// otherwise. Coalesced waiters (whose events come from their leader), TLS
// and HTTP/1.0 clients stay on their goroutines.
func (r *streamRelay) parkable() *writeBoundConn {
	x := r.x
	if x.g.in.park == nil || r.follower || !x.ctx.Request.Header.IsHTTP11() {
		return nil
	}
	wc, ok := innerConn(x.ctx.Conn()).(*writeBoundConn)
	if !ok || wc.fd < 0 {
		return nil
	}
	if _, ok := r.upstream.(openai.Resumable); !ok {
		return nil
	}
	if b := x.line.Body(); x.resp.BodyStream() != b || b.Fd() < 0 {
		return nil
	}
	return wc
}

// hijacked serves r's stream on the connection fasthttp handed over: it
// parks until the loop ends it (or, when no loop takes it, is relayed here);
// then it is closed and the connection goes back to fasthttp for the next
// request (or is closed).
func (r *streamRelay) hijacked(c net.Conn) {
	x := r.x
	wc, _ := innerConn(c).(*writeBoundConn)
	keep := !x.ctx.Request.Header.ConnectionClose()
	if !keep {
		x.ctx.Response.SetConnectionClose()
	}
	x.ctx.Response.Header.SetContentLength(-1)
	// Parked, the loop writes the head and every event: this goroutine only
	// waits, and its stack never grows past its first 2 KiB.
	if wc != nil && r.parkOn(wc) {
		<-r.park.wake
		r.unpark()
		r.endHijacked(c, wc, keep, nil)
		return
	}
	r.endHijacked(c, wc, keep, r.relayHere(c))
}

// relayHere relays the stream on this goroutine, with blocking writes: the
// loop would not take it.
func (r *streamRelay) relayHere(c net.Conn) error {
	x := r.x
	x.wbuf = x.ctx.Response.Header.AppendBytes(x.wbuf[:0])
	if _, err := c.Write(x.wbuf); err != nil {
		return err
	}
	// WriteTo sends the first event too (advance returns it) and sets ttft.
	if _, err := r.WriteTo(chunkWriter{c}); err != nil {
		return err
	}
	_, err := c.Write(lastChunk)
	return err
}

// endHijacked closes the stream and gives its connection back to fasthttp
// for the client's next request, or closes it.
func (r *streamRelay) endHijacked(c net.Conn, wc *writeBoundConn, keep bool, err error) {
	x := r.x
	clean := err == nil && r.finished && !r.park.gone && keep && wc != nil
	in := x.g.in
	r.Close()
	if !clean || in.closed.Load() {
		c.Close()
		return
	}
	// Once fasthttp's goroutine that served this request is done with the
	// connection.
	<-wc.served
	if in.closed.Load() {
		c.Close()
		return
	}
	in.serveAgain(servable(c), wc)
}

// parkOn parks the stream on a loop; false leaves it with its goroutine.
func (r *streamRelay) parkOn(wc *writeBoundConn) bool {
	x := r.x
	p := &r.park
	x.unwatch() // the loop notices a client that leaves; the watcher must not cut the line under it
	if x.line.Cancelled() {
		return false
	}
	b := x.line.Body()
	if !b.SetNonBlocking(true) {
		return false
	}
	p.upFd, p.clientFd, p.gone, p.backlog, p.head = b.Fd(), wc.fd, false, nil, true
	wc.Conn.SetWriteDeadline(time.Time{}) // the loop bounds stalls itself (sweep)
	if p.wake == nil {
		p.wake = make(chan struct{}, 1)
	}
	if eg, ok := r.upstream.(openai.Resumable); ok {
		eg.Eager(true)
	}
	if x.g.in.park.pick().add(r) {
		return true
	}
	r.unpark()
	return false
}

// unpark readies a stream the loop let go of for its closing work, which
// reads the cloud's socket waiting again.
func (r *streamRelay) unpark() {
	r.x.line.Body().SetNonBlocking(false)
	if r.finished {
		return // the reader gave itself back to its pool at the stream's end
	}
	if eg, ok := r.upstream.(openai.Resumable); ok {
		eg.Eager(false)
	}
}

// servable is the connection to give back to fasthttp after a hijack: the
// one Accept returned, unless fasthttp's hijacked connection reads through
// a buffer that holds the client's next (pipelined) request, which must not
// be lost. Why look inside fasthttp's type? Handing back the wrapper every
// time would stack one wrapper per stream on a keep-alive connection.
func servable(c net.Conn) net.Conn {
	inner := innerConn(c)
	v := reflect.ValueOf(c)
	if inner == c || v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return c
	}
	f := v.Elem().FieldByName("r")
	if !f.IsValid() || f.Kind() != reflect.Interface || f.IsNil() {
		return c
	}
	rd := f.Elem()
	iv := reflect.ValueOf(inner)
	if rd.Kind() == reflect.Pointer && iv.Kind() == reflect.Pointer && rd.Pointer() == iv.Pointer() {
		return inner
	}
	return c
}

// chunkWriter frames each write as one HTTP chunk (the relay's fallback when
// no loop takes the stream).
type chunkWriter struct{ c net.Conn }

func (w chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var head [chunkHead]byte
	h := head[:0]
	h = appendHex(h, len(p))
	h = append(h, '\r', '\n')
	bufs := net.Buffers{h, p, crlf}
	if _, err := bufs.WriteTo(w.c); err != nil {
		return 0, err
	}
	return len(p), nil
}

var crlf = []byte("\r\n")

func appendHex(dst []byte, v int) []byte {
	var hex [16]byte
	h := len(hex)
	for {
		h--
		hex[h] = "0123456789abcdef"[v&15]
		if v >>= 4; v == 0 {
			break
		}
	}
	return append(dst, hex[h:]...)
}

// reused is p emptied for the relay's next stream, keeping what is made
// once per pooled relay.
func (p *parked) reused() parked { return parked{wake: p.wake} }
