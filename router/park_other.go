//go:build !linux

package router

import "net"

// Streams are parked on Linux only (park.go: epoll); elsewhere every stream
// keeps its goroutine.
type parker struct{}

type parked struct{ wake chan struct{} }

func newParker(*Instance, int) *parker { return nil }

func (*parker) close() {}

func (*streamRelay) parkable() *writeBoundConn { return nil }

func (*streamRelay) hijacked(c net.Conn) { c.Close() }

func (p *parked) reused() parked { return parked{wake: p.wake} }
