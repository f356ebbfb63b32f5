// Command vnetlab-qemu boots a real guest in the VM lab (internal/vmlab/qemu):
// a Debian kernel under QEMU (TCG unless -accel kvm) with a virtio-net NIC on
// a lab tap, the lab's agent and, with -dist, otelcol-vnetpath running
// deploy/guest.yaml, exporting to a host collector (the same binary with
// deploy/lab-host.yaml) on the lab bridge's address.
//
//	vnetlab-qemu [-dist _build/otelcol-vnetpath] [-bytes N] [-accel tcg|kvm]
//
// It prints the lab and guest as JSON, checks the NIC, moves N bytes each way
// byte-exact, sends a probe span through the guest collector, and runs until
// SIGINT/SIGTERM, which tear everything down. Needs root.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/guestagent"
	"github.com/vnetpath/vnetpath/internal/vmlab/qemu"
)

func main() {
	// Children die with the thread that forked them (Pdeathsig): fork from
	// the main thread, which lives as long as the process.
	runtime.LockOSThread()
	dist := flag.String("dist", "", "static otelcol-vnetpath to run in the guest and on the host (empty: no collector)")
	hostCfg := flag.String("host-config", "deploy/lab-host.yaml", "host collector configuration (with -dist)")
	n := flag.Int64("bytes", 4<<20, "bytes to move each way between the client netns and the guest")
	accel := flag.String("accel", "tcg", "QEMU accelerator: tcg or kvm")
	flag.Parse()
	if err := run(*dist, *hostCfg, *n, *accel); err != nil {
		fmt.Fprintln(os.Stderr, "vnetlab-qemu:", err)
		os.Exit(1)
	}
}

// report is what the command prints once the guest is up.
type report struct {
	Lab       vmlab.Layout           `json:"lab"`
	QEMUPID   int                    `json:"qemu_pid"`
	Console   string                 `json:"console_log"`
	Image     *qemu.Image            `json:"image"`
	Ready     string                 `json:"ready_after"`
	NIC       guestagent.Info        `json:"guest_nic"`
	ToGuest   [2]guestagent.Transfer `json:"to_guest"`   // sent, received
	FromGuest [2]guestagent.Transfer `json:"from_guest"` // sent, received
	OTLP      string                 `json:"guest_exports_to,omitempty"`
	ProbeSpan *guestagent.SpanRef    `json:"probe_span,omitempty"`
}

func run(dist, hostCfg string, n int64, accel string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	spec := qemu.Spec{}
	if dist != "" {
		abs, err := filepath.Abs(dist)
		if err != nil {
			return err
		}
		spec.Collector = abs
	}
	img, err := qemu.Assemble(ctx, spec)
	if err != nil {
		return err
	}
	// vmlab tears the lab down on SIGINT/SIGTERM (killing QEMU), then the
	// signal ends us; QEMU and the host collector die with us (Pdeathsig).
	lab, err := vmlab.New(ctx, vmlab.Options{ExternalVMM: true, HostAddress: true})
	if err != nil {
		return err
	}
	rep := report{Image: img}
	if dist != "" {
		rep.OTLP = lab.HostIP.String() + ":4317"
		if err := startHostCollector(spec.Collector, hostCfg, rep.OTLP); err != nil {
			return errors.Join(err, lab.Close())
		}
	}
	g, err := qemu.Boot(ctx, qemu.Options{Image: img, Lab: lab, Accel: accel})
	if err != nil {
		return errors.Join(err, lab.Close())
	}
	rep.Lab, rep.QEMUPID, rep.Console, rep.Ready = lab.Layout, g.PID, g.ConsoleLog, g.Ready.Round(time.Millisecond).String()
	if err := exercise(ctx, g, n, &rep); err != nil {
		return errors.Join(err, g.Close(), lab.Close())
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return errors.Join(err, g.Close(), lab.Close())
	}
	fmt.Fprintf(os.Stderr, "guest up; console: tail -f %s; Ctrl-C tears the lab down\n", g.ConsoleLog)
	<-g.Exited()
	return errors.Join(errors.New("QEMU exited"), lab.Close())
}

// exercise checks the guest NIC, moves n bytes each way and, with a guest
// collector, sends a probe span through it.
func exercise(ctx context.Context, g *qemu.Guest, n int64, rep *report) error {
	a := g.Agent()
	var err error
	if rep.NIC, err = a.Info(ctx); err != nil {
		return err
	}
	if rep.ToGuest[0], rep.ToGuest[1], err = a.Sink(ctx, guestagent.Pattern(1, n)); err != nil {
		return err
	}
	if rep.FromGuest[0], rep.FromGuest[1], err = a.Source(ctx, n, 2); err != nil {
		return err
	}
	if rep.ToGuest[0] != rep.ToGuest[1] || rep.FromGuest[0] != rep.FromGuest[1] {
		return fmt.Errorf("transfers not byte-exact: to guest %+v, from guest %+v", rep.ToGuest, rep.FromGuest)
	}
	if rep.OTLP == "" {
		return nil
	}
	if err := g.WaitConsole(ctx, "Everything is ready"); err != nil {
		return err
	}
	var nb [8]byte
	_, _ = rand.Read(nb[:])
	ref, err := a.Span(ctx, "127.0.0.1:4317", "vnetlab.probe", hex.EncodeToString(nb[:]))
	rep.ProbeSpan = &ref
	return err
}

// startHostCollector runs the distribution on the host, its output on ours.
func startHostCollector(bin, cfg, listen string) error {
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(), "VNETPATH_LAB_OTLP="+listen)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("host collector: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
