package qemu

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vnetpath/vnetpath/internal/discovery"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/guestagent"
)

// labT builds a lab with one VM for QEMU to play, and a host address.
func labT(t *testing.T) *vmlab.Lab {
	t.Helper()
	return vmlab.NewT(t, vmlab.Options{ExternalVMM: true, HostAddress: true})
}

// bootT assembles an image from spec and boots a guest on lab's VM (a new
// lab if nil). The guest is killed at the end of the test if the test did
// not shut it down; its console is printed if the test failed.
func bootT(t *testing.T, lab *vmlab.Lab, spec Spec) (*Guest, *Image) {
	t.Helper()
	start := time.Now()
	img, err := Assemble(testenv.Context(t, 5*time.Minute), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image: %s (%s), initramfs %s (cached %v), modules %v, assembled in %s",
		img.KernelPackage, img.Kernel, img.Initramfs, img.Cached, img.Modules, time.Since(start).Round(time.Millisecond))
	if lab == nil {
		lab = labT(t)
	}
	g, err := Boot(testenv.Context(t, 5*time.Minute), Options{Image: img, Lab: lab})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("close guest: %v", err)
		}
		if t.Failed() {
			t.Logf("guest console (%s):\n%s", g.ConsoleLog, g.Console(16<<10))
		}
	})
	t.Logf("guest %s (QEMU pid %d, tap %s, %s) ready %s after QEMU started", g.VM.Name, g.PID, g.VM.HostTap, g.VM.IP, g.Ready.Round(time.Millisecond))
	return g, img
}

// A real guest kernel drives the NIC with virtio_net, TCP crosses client
// veth -> bridge -> tap -> QEMU -> virtio-net byte-exact both ways, and the
// guest powers off cleanly, taking the tap with it.
func TestGuestVirtioNetTransfers(t *testing.T) {
	testenv.RequireRoot(t)
	g, img := bootT(t, nil, Spec{})
	ctx := testenv.Context(t, 3*time.Minute)

	info, err := g.Agent().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := guestagent.Info{Interface: "eth0", Driver: "virtio_net", MAC: g.VM.MAC, Kernel: img.KernelRelease, BTF: true}
	if info != want {
		t.Errorf("guest NIC %+v, want %+v", info, want)
	}

	const n = 4 << 20
	// The host tap, the client veth's bridge port and the bridge device,
	// read together.
	path := func() (tap, port, bridge vmlab.LinkStats) {
		t.Helper()
		var err error
		if tap, err = g.VM.HostTapStats(); err == nil {
			if port, err = g.lab.HostVethStats(); err == nil {
				bridge, err = g.lab.BridgeStats()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		return tap, port, bridge
	}
	before, portBefore, bridgeBefore := path()
	start := time.Now()
	sent, received, err := g.Agent().Sink(ctx, guestagent.Pattern(1, n))
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := guestagent.Digest(guestagent.Pattern(1, n)); sent != w || received != w {
		t.Errorf("client->guest: sent %+v, guest received %+v, want both %+v", sent, received, w)
	}
	toGuest := time.Since(start)
	start = time.Now()
	sent, received, err = g.Agent().Source(ctx, n, 2)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := guestagent.Digest(guestagent.Pattern(2, n)); sent != w || received != w {
		t.Errorf("guest->client: guest sent %+v, received %+v, want both %+v", sent, received, w)
	}
	fromGuest := time.Since(start)
	// The guest talks to the client only: every frame QEMU wrote to the tap
	// crosses the bridge to the client's port, the TCP teardown's last ones
	// a moment after the transfer; the port sends it on or, when the
	// client's backlog is full, drops it (veth counts that as tx_dropped).
	var d, port, bridge vmlab.LinkStats
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		after, portAfter, bridgeAfter := path()
		d, port, bridge = after.Sub(before), portAfter.Sub(portBefore), bridgeAfter.Sub(bridgeBefore)
		if d.RxPackets == port.TxPackets+port.TxDropped || time.Now().After(deadline) {
			break
		}
	}
	// The tap's tx is toward QEMU (the guest), its rx what QEMU wrote.
	if d.TxBytes < n || d.RxBytes < n {
		t.Errorf("host tap moved %d bytes to and %d from the guest, want >= %d each way", d.TxBytes, d.RxBytes, n)
	}
	if d.RxPackets != port.TxPackets+port.TxDropped {
		// Once in a few dozen make test runs one frame is missing, never in
		// 50 runs alone or under load: what the bridge itself saw says
		// whether it went to the host instead (see the issue notes).
		t.Errorf("QEMU wrote %d frames to the tap, the client's port sent %d and dropped %d; the bridge device moved %+v",
			d.RxPackets, port.TxPackets, port.TxDropped, bridge)
	}
	t.Logf("4 MiB client->guest in %s, guest->client in %s; host tap: %d/%d frames to/from guest, %d dropped (ring overruns); client port: %d dropped",
		toGuest.Round(time.Millisecond), fromGuest.Round(time.Millisecond), d.TxPackets, d.RxPackets, d.TxDropped, port.TxDropped)

	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var nf netlink.LinkNotFoundError
	if _, err := netlink.LinkByName(g.VM.HostTap); !errors.As(err, &nf) {
		t.Errorf("tap %s after QEMU exited: %v, want it gone", g.VM.HostTap, err)
	}
}

// On a host with vhost-net (a KVM host), the kernel's vhost worker moves the
// packets: discovery lists it with the default globs, and TCP stays exact.
func TestGuestVhostNet(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := os.Stat("/dev/vhost-net"); err != nil {
		t.Skipf("no vhost-net on this host (%v): modprobe vhost_net on a KVM host", err)
	}
	accel := "tcg"
	if _, err := os.Stat("/dev/kvm"); err == nil {
		accel = "kvm"
	}
	img, err := Assemble(testenv.Context(t, 5*time.Minute), Spec{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Boot(testenv.Context(t, 5*time.Minute), Options{Image: img, Lab: labT(t), Accel: accel, Vhost: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	ctx := testenv.Context(t, 3*time.Minute)
	sent, received, err := g.Agent().Sink(ctx, guestagent.Pattern(3, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := guestagent.Digest(guestagent.Pattern(3, 4<<20)); sent != w || received != w {
		t.Errorf("client->guest over vhost-net: sent %+v, received %+v, want both %+v", sent, received, w)
	}
	vms, _, err := (&discovery.Scanner{}).Scan()
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range vms {
		if vm.PID == g.PID {
			want := fmt.Sprintf("vhost-%d", g.PID)
			if len(vm.Workers) != 1 || vm.Workers[0].Name != want {
				t.Errorf("workers %v, want one %s", vm.Workers, want)
			}
			return
		}
	}
	t.Errorf("QEMU %d not discovered", g.PID)
}
