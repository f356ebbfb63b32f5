package main

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// setTapFilter attaches a socket-filter program to the tap's queue with
// TUNSETFILTEREBPF: a program returning 0 makes tun_net_xmit drop every frame
// with reason TAP_FILTER. FilterNone detaches it (fd -1).
func setTapFilter(tapFD int, mode vmmctl.FilterMode) error {
	progFD := -1
	if mode == vmmctl.FilterDropAll {
		if err := rlimit.RemoveMemlock(); err != nil {
			return fmt.Errorf("tap filter: %w", err)
		}
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:         "vnetlab_drop",
			Type:         ebpf.SocketFilter,
			License:      "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		})
		if err != nil {
			return fmt.Errorf("tap filter: load program: %w", err)
		}
		// tun takes its own reference on the program.
		defer prog.Close()
		progFD = prog.FD()
	}
	if err := unix.IoctlSetPointerInt(tapFD, unix.TUNSETFILTEREBPF, progFD); err != nil {
		return fmt.Errorf("tap filter: TUNSETFILTEREBPF: %w", err)
	}
	return nil
}
