//go:build linux

package action

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel starts the program in a process group of its own and
// kills the whole group when the run's context ends, so that children it
// spawned do not outlive the timeout.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
