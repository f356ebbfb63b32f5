package vmlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// MaxVMs bounds a lab; attribution and cardinality tests need several.
const MaxVMs = 16

// Options configure New.
type Options struct {
	VMs        int    // number of VMs, 1..MaxVMs; 0 means 1
	VMMPath    string // VMM executable; empty means VMMBinary()
	TxQueueLen int    // host tap txqueuelen at start; 0 keeps tun's default
	// VnetHdr opens the built-in VMM's taps as QEMU does with vnet_hdr=on
	// and a guest that negotiated offloads: TCP crosses the tap as GSO
	// frames of up to 64 KiB instead of MTU-sized segments.
	VnetHdr bool
	// ExternalVMM: the caller runs each VM's VMM (e.g. QEMU with a
	// tap netdev named VM.HostTap) and hands its tap to VM.AdoptTap; the lab
	// makes no VM netns and no built-in VMM, so VM.Control, Counters and the
	// VM-side traffic helpers are unavailable.
	ExternalVMM bool
	// HostAddress gives the bridge the subnet's .254 (Layout.HostIP) in the
	// root netns, so host processes reach the VMs (e.g. a host collector's
	// OTLP receiver that guest collectors export to).
	HostAddress bool
}

// Lab is a running lab, built by New (owner) or found by Attach.
type Lab struct {
	Layout
	vms      []*VM
	clientNL *netlink.Handle

	spawner   *spawner // nil when attached: only the owner starts VMMs and tears down
	closeOnce sync.Once
	closeErr  error
}

// VM is one VM of a lab.
type VM struct {
	VMLayout
	Control *vmmctl.Client // pause/resume, delay, drop-every-Nth, tap filter, stats
	lab     *Lab
	nl      *netlink.Handle // in the VM's netns
	proc    *vmmProc        // nil when attached
}

// TB is the part of testing.TB that NewT uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

// NewT builds a lab for a test and closes it in tb.Cleanup, also when the
// test fails.
func NewT(tb TB, opts Options) *Lab {
	tb.Helper()
	l, err := New(context.Background(), opts)
	if err != nil {
		tb.Fatalf("vmlab: %v", err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("vmlab close: %v", err)
		}
	})
	return l
}

// New builds a lab: it first removes the leftovers of labs whose owner died,
// then creates the client netns, bridge, veth and, per VM, a netns and a VMM
// with its two taps. The lab is torn down by Close, or on SIGINT/SIGTERM of
// this process; VMM processes die with it (Pdeathsig).
func New(ctx context.Context, opts Options) (*Lab, error) {
	n := opts.VMs
	if n == 0 {
		n = 1
	}
	if n < 1 || n > MaxVMs {
		return nil, fmt.Errorf("vmlab: Options.VMs = %d, want 1..%d", opts.VMs, MaxVMs)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("vmlab: needs root (netns, bridges, /dev/net/tun)")
	}
	bin := opts.VMMPath
	if bin == "" && !opts.ExternalVMM {
		var err error
		if bin, err = VMMBinary(); err != nil {
			return nil, err
		}
	}
	layout, err := reserve(n, opts)
	if err != nil {
		return nil, err
	}
	l := &Lab{Layout: *layout, spawner: newSpawner()}
	track(l)
	if err := l.build(ctx, bin, opts); err != nil {
		return nil, errors.Join(fmt.Errorf("vmlab %s: %w", l.ID, err), l.Close())
	}
	return l, nil
}

func (l *Lab) build(ctx context.Context, bin string, opts Options) error {
	if err := os.MkdirAll(l.RunDir(), 0o755); err != nil {
		return err
	}
	if err := createNetns(l.ClientNS); err != nil {
		return err
	}
	var err error
	if l.clientNL, err = handleAt(l.ClientNetnsPath()); err != nil {
		return err
	}
	br, err := l.buildBridge()
	if err != nil {
		return err
	}
	for i := range l.Layout.VMs {
		vm := &VM{VMLayout: l.Layout.VMs[i], lab: l}
		l.vms = append(l.vms, vm)
		if vm.External {
			continue // wired by AdoptTap once the caller's VMM made the tap
		}
		if err := vm.build(ctx, bin, br, opts); err != nil {
			return fmt.Errorf("vm %s: %w", vm.Name, err)
		}
		l.Layout.VMs[i] = vm.VMLayout
	}
	return l.save()
}

// buildBridge creates the bridge and the client veth, silent: IPv6 off
// before anything goes up, no STP, no multicast snooping, static entries.
func (l *Lab) buildBridge() (netlink.Link, error) {
	off := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: l.Bridge}, MulticastSnooping: &off}
	if l.BridgeMAC != "" {
		// Set, so it stays put as ports come and go: VMs hold it in static ARP.
		br.HardwareAddr = parseMAC(l.BridgeMAC)
	}
	if err := netlink.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("create bridge %s: %w", l.Bridge, err)
	}
	if err := disableIPv6(l.Bridge); err != nil {
		return nil, err
	}
	if l.HostIP.IsValid() {
		if err := addrUp(rootNL, br, l.HostIP, l.Subnet); err != nil {
			return nil, err
		}
	} else if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("set %s up: %w", l.Bridge, err)
	}
	ns, err := netns.GetFromPath(l.ClientNetnsPath())
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", l.ClientNS, err)
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: l.HostVeth, MasterIndex: br.Attrs().Index},
		PeerName:         l.ClientDev,
		PeerHardwareAddr: parseMAC(l.ClientMAC),
		PeerNamespace:    netlink.NsFd(ns),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %s/%s: %w", l.HostVeth, l.ClientDev, err)
	}
	hv, err := netlink.LinkByName(l.HostVeth)
	if err != nil {
		return nil, fmt.Errorf("veth %s: %w", l.HostVeth, err)
	}
	if err := disableIPv6(l.HostVeth); err != nil {
		return nil, err
	}
	if err := quietPort(hv, false); err != nil {
		return nil, err
	}
	if err := staticFDB(hv, l.ClientMAC); err != nil {
		return nil, err
	}
	if err := netlink.LinkSetUp(hv); err != nil {
		return nil, fmt.Errorf("set %s up: %w", l.HostVeth, err)
	}
	cl, err := l.clientNL.LinkByName(l.ClientDev)
	if err != nil {
		return nil, fmt.Errorf("client dev %s: %w", l.ClientDev, err)
	}
	return br, addrUp(l.clientNL, cl, l.ClientIP, l.Subnet)
}

// build creates the VM's netns, starts its VMM (which creates both taps) and
// wires the taps: host tap onto the bridge, guest tap with the VM's address.
func (vm *VM) build(ctx context.Context, bin string, br netlink.Link, opts Options) error {
	l := vm.lab
	if err := createNetns(vm.NS); err != nil {
		return err
	}
	proc, err := startVMM(l.spawner, bin, vm.VMLayout, opts.VnetHdr)
	if err != nil {
		return err
	}
	vm.proc, vm.PID = proc, proc.cmd.Process.Pid
	if vm.Control, err = proc.dial(ctx, vm.ControlSock); err != nil {
		return err
	}
	st, err := vm.Control.Stats()
	if err != nil {
		return err
	}
	vm.WorkerTID = st.WorkerTID

	if err := vm.wireHostTap(br.Attrs().Index, opts.TxQueueLen); err != nil {
		return err
	}

	if vm.nl, err = handleAt(vm.NetnsPath()); err != nil {
		return err
	}
	g, err := vm.nl.LinkByName(vm.GuestDev)
	if err != nil {
		return fmt.Errorf("guest dev %s: %w", vm.GuestDev, err)
	}
	vm.GuestIndex = g.Attrs().Index
	if err := vm.nl.LinkSetHardwareAddr(g, parseMAC(vm.MAC)); err != nil {
		return fmt.Errorf("guest dev %s: set mac: %w", vm.GuestDev, err)
	}
	if err := addrUp(vm.nl, g, vm.IP, l.Subnet); err != nil {
		return err
	}
	if err := staticNeigh(vm.nl, g, l.ClientIP, l.ClientMAC); err != nil {
		return err
	}
	return vm.neighbours()
}

// wireHostTap puts the VM's host tap on the bridge, silent, and up.
func (vm *VM) wireHostTap(bridgeIndex, txQueueLen int) error {
	l := vm.lab
	tap, err := netlink.LinkByName(vm.HostTap)
	if err != nil {
		return fmt.Errorf("host tap %s: %w", vm.HostTap, err)
	}
	vm.HostTapIndex = tap.Attrs().Index
	if err := disableIPv6(vm.HostTap); err != nil {
		return err
	}
	if err := netlink.LinkSetHardwareAddr(tap, parseMAC(hostTapMAC(l.Slot, vm.Index))); err != nil {
		return fmt.Errorf("host tap %s: set mac: %w", vm.HostTap, err)
	}
	if err := netlink.LinkSetMasterByIndex(tap, bridgeIndex); err != nil {
		return fmt.Errorf("host tap %s: enslave to %s: %w", vm.HostTap, l.Bridge, err)
	}
	if err := quietPort(tap, true); err != nil {
		return err
	}
	if err := staticFDB(tap, vm.MAC); err != nil {
		return err
	}
	if txQueueLen > 0 {
		if err := vm.SetTxQueueLen(txQueueLen); err != nil {
			return err
		}
	}
	if err := netlink.LinkSetUp(tap); err != nil {
		return fmt.Errorf("set %s up: %w", vm.HostTap, err)
	}
	return nil
}

// neighbours adds the VM's static ARP entries in the client netns and, with
// a host address, on the bridge.
func (vm *VM) neighbours() error {
	l := vm.lab
	cl, err := l.clientNL.LinkByName(l.ClientDev)
	if err != nil {
		return fmt.Errorf("client dev %s: %w", l.ClientDev, err)
	}
	if err := staticNeigh(l.clientNL, cl, vm.IP, vm.MAC); err != nil {
		return err
	}
	if !l.HostIP.IsValid() {
		return nil
	}
	br, err := netlink.LinkByName(l.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", l.Bridge, err)
	}
	return staticNeigh(rootNL, br, vm.IP, vm.MAC)
}

// AdoptTap wires the tap that the external VMM pid created for this VM
// (named HostTap) like a built-in VMM's: onto the bridge, silent, up, with
// static neighbours. pid is recorded so a later Sweep kills the VMM if this
// process dies without closing the lab.
func (vm *VM) AdoptTap(pid int, txQueueLen int) error {
	if !vm.External {
		return fmt.Errorf("vm %s: AdoptTap is for external VMMs (Options.ExternalVMM)", vm.Name)
	}
	br, err := netlink.LinkByName(vm.lab.Bridge)
	if err != nil {
		return fmt.Errorf("vm %s: bridge %s: %w", vm.Name, vm.lab.Bridge, err)
	}
	vm.PID = pid
	if err := vm.wireHostTap(br.Attrs().Index, txQueueLen); err != nil {
		return fmt.Errorf("vm %s: %w", vm.Name, err)
	}
	if err := vm.neighbours(); err != nil {
		return fmt.Errorf("vm %s: %w", vm.Name, err)
	}
	vm.lab.Layout.VMs[vm.Index] = vm.VMLayout
	return vm.lab.save()
}

func handleAt(path string) (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", path, err)
	}
	return h, nil
}

// Attach opens the running lab id (e.g. "vnlab3") built by another process,
// to inject faults, send traffic and read counters. Close on it releases the
// handles only; the lab stays up.
func Attach(id string) (*Lab, error) {
	layout, err := LoadLayout(id)
	if err != nil {
		return nil, err
	}
	if !layout.OwnerAlive() {
		return nil, fmt.Errorf("lab %s: owner %d is gone", id, layout.OwnerPID)
	}
	l := &Lab{Layout: *layout}
	if l.clientNL, err = handleAt(l.ClientNetnsPath()); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	for _, v := range l.Layout.VMs {
		vm := &VM{VMLayout: v, lab: l}
		l.vms = append(l.vms, vm)
		if vm.External {
			continue
		}
		if vm.nl, err = handleAt(vm.NetnsPath()); err != nil {
			return nil, errors.Join(err, l.Close())
		}
		if vm.Control, err = vmmctl.Dial(vm.ControlSock); err != nil {
			return nil, errors.Join(err, l.Close())
		}
	}
	return l, nil
}

// VM returns VM i.
func (l *Lab) VM(i int) *VM { return l.vms[i] }

// AllVMs returns the lab's VMs in index order.
func (l *Lab) AllVMs() []*VM { return l.vms }

// Close tears the lab down (owner) or releases its handles (attached): VMMs
// stopped, then links, netns and state removed. It is safe to call twice.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		// Still tracked while closing: a signal handler that meets this lab
		// waits in closeOnce until the teardown is complete.
		defer untrack(l)
		var errs []error
		for _, vm := range l.vms {
			if vm.Control != nil {
				vm.Control.Close()
			}
			if vm.proc != nil {
				errs = append(errs, vm.proc.stop(2*time.Second))
			}
			if vm.nl != nil {
				vm.nl.Close()
			}
		}
		if l.clientNL != nil {
			l.clientNL.Close()
		}
		if l.spawner != nil {
			l.spawner.stop()
			errs = append(errs, l.Layout.destroy())
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}
