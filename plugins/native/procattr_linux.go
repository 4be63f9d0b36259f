package native

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the plugin process when the router
// dies, so a crashed router leaves no orphans behind. See docs/RATIONALE.md
// "Why Pdeathsig?".
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
