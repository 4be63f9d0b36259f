package nbio

import (
	"syscall"
	"testing"
)

// On a non-blocking socket pair: a write is read back, an empty socket is
// EAGAIN at once (never a wait), and EpollWaitNow reports readiness without
// waiting — none before the write, the socket after it.
func TestNonBlockingCalls(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ep)
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fds[1], &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 7}); err != nil {
		t.Fatal(err)
	}
	events := make([]syscall.EpollEvent, 4)
	buf := make([]byte, 16)
	if n, e := EpollWaitNow(ep, events); n != 0 || e != 0 {
		t.Fatalf("before any write: %d events, %v", n, e)
	}
	if _, e := Read(fds[1], buf); e != syscall.EAGAIN {
		t.Fatalf("read of an empty socket: %v", e)
	}
	if n, e := Write(fds[0], []byte("event")); n != 5 || e != 0 {
		t.Fatalf("write: %d, %v", n, e)
	}
	if n, e := EpollWaitNow(ep, events); n != 1 || e != 0 || events[0].Fd != 7 {
		t.Fatalf("after a write: %d events (%+v), %v", n, events[0], e)
	}
	if n, e := Read(fds[1], buf); e != 0 || string(buf[:n]) != "event" {
		t.Fatalf("read: %q, %v", buf[:n], e)
	}
	if n, e := Read(fds[1], nil); n != 0 || e != 0 {
		t.Fatalf("empty read: %d, %v", n, e)
	}
}
