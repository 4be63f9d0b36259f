// Package nbio makes the system calls of non-blocking sockets without
// telling the Go scheduler: a read or write of a non-blocking socket, or an
// epoll_wait that does not wait, returns in microseconds.
//
// Why? syscall.Read and friends enter the scheduler's "in a system call"
// state; sysmon, seeing a processor in that state at two of its ticks (20 µs
// apart), hands the processor to another thread (a futex wake) and keeps
// itself ticking at its fastest rate (a nanosleep every few hundred µs). A
// parked stream's event loop makes two such calls per relayed event; through
// the scheduler-aware calls, half the process's system calls were futex and
// nanosleep (issue 16, bench/streams). The calls here never block, so the
// scheduler has nothing to take over. Use them only on descriptors in
// non-blocking mode.
package nbio

import "syscall"

// Read reads from the non-blocking descriptor fd, retrying on EINTR.
func Read(fd int, p []byte) (int, syscall.Errno) { return transfer(syscall.SYS_READ, fd, p) }

// Write writes to the non-blocking descriptor fd, retrying on EINTR.
func Write(fd int, p []byte) (int, syscall.Errno) { return transfer(syscall.SYS_WRITE, fd, p) }

// transfer is read(2) or write(2) of p.
func transfer(trap uintptr, fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	for {
		n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafePointer(p)), uintptr(len(p)))
		if e != syscall.EINTR {
			if e != 0 {
				return 0, e
			}
			return int(n), 0
		}
	}
}
