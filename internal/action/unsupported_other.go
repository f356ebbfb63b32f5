//go:build !linux

package action

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
)

// The remediations call Linux interfaces (pidfd, netlink, sched
// affinity); elsewhere they build, and refuse at configuration or run.
var errLinuxOnly = fmt.Errorf("remediation actions need Linux: %w", errors.ErrUnsupported)

func parseSignal(string) (syscall.Signal, error) { return 0, errLinuxOnly }

func signalProcess(int, syscall.Signal, []string, bool) (string, error) { return "", errLinuxOnly }

type links struct{}

func openLinks(string) (*links, error)         { return nil, errLinuxOnly }
func (*links) close()                          {}
func (*links) txQueueLen(string) (int, error)  { return 0, errLinuxOnly }
func (*links) setTxQueueLen(string, int) error { return errLinuxOnly }
func onlineCPUs() ([]int, error)               { return nil, errLinuxOnly }
func threadAffinity(int) ([]int, error)        { return nil, errLinuxOnly }
func setThreadAffinity(int, []int) error       { return errLinuxOnly }
func killGroupOnCancel(*exec.Cmd)              {}
