// Command vnetlab-vmm is the lab's stand-in for QEMU with vhost-net: it holds
// a host-side tap and a tap inside the VM's netns (the guest NIC) and moves
// frames between them on one thread named vhost-<pid>. A unix socket takes
// control commands (internal/vmlab/vmmctl).
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vnetlab-vmm:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := parseArgs(args)
	if err != nil {
		return err
	}
	hostFD, err := openTap(cfg.hostTap, cfg.vnetHdr)
	if err != nil {
		return err
	}
	defer unix.Close(hostFD)
	guestFD, err := openTapIn(cfg.guestNetns, cfg.guestIfname, cfg.vnetHdr)
	if err != nil {
		return err
	}
	defer unix.Close(guestFD)
	hdr := 0
	if cfg.vnetHdr {
		hdr = vnetHdrLen
	}
	w, err := newWorker(hostFD, guestFD, hdr)
	if err != nil {
		return err
	}
	v := &vmm{w: w, hostFD: hostFD, filter: vmmctl.FilterNone}

	usr1 := make(chan os.Signal, 64)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			v.sigusr1.Add(1)
		}
	}()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)

	started := make(chan error, 1)
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.run(started) }()
	if err := <-started; err != nil {
		return err
	}

	// The socket appears only once both taps and the worker exist: the lab
	// takes a successful dial as "ready".
	_ = os.Remove(cfg.control)
	ln, err := net.Listen("unix", cfg.control)
	if err != nil {
		return fmt.Errorf("listen on control socket %s: %w", cfg.control, err)
	}
	defer os.Remove(cfg.control)
	defer ln.Close()
	go v.serve(ln)

	select {
	case <-term:
		return w.stop()
	case err := <-workerDone:
		return errors.Join(errors.New("worker stopped"), err)
	}
}
