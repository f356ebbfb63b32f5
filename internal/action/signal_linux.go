//go:build linux

package action

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func parseSignal(name string) (syscall.Signal, error) {
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("signal: unknown signal %q; use a name such as SIGUSR1, SIGUSR2, SIGHUP", name)
	}
	return sig, nil
}

// signalProcess checks the process's name and signals it through a pidfd,
// so that a pid reused between the check and the signal cannot be hit:
// while the pidfd's process is alive, /proc/<pid> is that process.
func signalProcess(pid int, sig syscall.Signal, allowed []string, dry bool) (comm string, err error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return "", Refuse("process %d is gone", pid)
	}
	if err != nil {
		return "", fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(fd)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "", Refuse("process %d: %v", pid, err)
	}
	comm = strings.TrimSuffix(string(b), "\n")
	if !allowedName(allowed, comm) {
		return comm, Refuse("process %d is %q, not in allowed_process_names %v", pid, comm, allowed)
	}
	if err := unix.PidfdSendSignal(fd, 0, nil, 0); err != nil {
		return comm, Refuse("process %d is gone", pid)
	}
	if dry {
		return comm, nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return comm, fmt.Errorf("pidfd_send_signal: %w", err)
	}
	return comm, nil
}
