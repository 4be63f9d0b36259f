//go:build !linux

package native

import "os/exec"

// dieWithParent is Linux-only (Pdeathsig); elsewhere a router that crashes
// may leave its plugin processes running.
func dieWithParent(*exec.Cmd) {}
