package nodeproc

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill the node if the test binary dies
// first (a go test -timeout panic skips t.Cleanup).
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
