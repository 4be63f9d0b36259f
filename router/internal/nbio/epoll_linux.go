package nbio

import (
	"syscall"
	"unsafe"
)

// EpollWaitNow takes the ready events of epoll descriptor epfd without
// waiting (a timeout of 0); EINTR is no events.
func EpollWaitNow(epfd int, events []syscall.EpollEvent) (int, syscall.Errno) {
	if len(events) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e == syscall.EINTR {
		return 0, 0
	}
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
