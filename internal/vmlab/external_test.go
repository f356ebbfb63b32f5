package vmlab

import (
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"golang.org/x/sys/unix"
)

// openTestTap creates a non-persistent tap the way QEMU's tap netdev does;
// it vanishes when the fd closes.
func openTestTap(t *testing.T, name string) {
	t.Helper()
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/net/tun: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		t.Fatalf("TUNSETIFF %s: %v", name, err)
	}
}

// An external VMM's tap joins the bridge like a built-in VMM's, and the host
// address makes the lab subnet reachable from the root netns.
func TestExternalVMMAndHostAddress(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{ExternalVMM: true, HostAddress: true})
	vm := lab.VM(0)
	if !vm.External || vm.NS != "" || vm.GuestDev != "" || vm.ControlSock != "" || vm.Control != nil {
		t.Fatalf("external VM layout %+v, control %v: want no netns, guest dev, control", vm.VMLayout, vm.Control)
	}
	b := lab.Subnet.Addr().As4()
	b[3] = 254
	if wantHost := netip.AddrFrom4(b); lab.HostIP != wantHost {
		t.Fatalf("HostIP = %s, want %s", lab.HostIP, wantHost)
	}

	openTestTap(t, vm.HostTap)
	if err := vm.AdoptTap(os.Getpid(), 2000); err != nil {
		t.Fatal(err)
	}
	br, err := netlink.LinkByName(lab.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	if got := br.Attrs().HardwareAddr.String(); got != lab.BridgeMAC {
		t.Errorf("bridge MAC %s, want the fixed %s", got, lab.BridgeMAC)
	}
	addrs, err := netlink.AddrList(br, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != netip.PrefixFrom(lab.HostIP, 24).String() {
		t.Errorf("bridge addresses %v, want only %s/24", addrs, lab.HostIP)
	}
	tap, err := netlink.LinkByName(vm.HostTap)
	if err != nil {
		t.Fatal(err)
	}
	a := tap.Attrs()
	if a.MasterIndex != br.Attrs().Index || a.Flags&net.FlagUp == 0 || a.TxQLen != 2000 ||
		a.HardwareAddr.String() != hostTapMAC(lab.Slot, 0) || vm.HostTapIndex != a.Index {
		t.Errorf("tap %s: master %d (bridge %d), flags %v, txqueuelen %d, mac %s, index %d (layout %d)",
			vm.HostTap, a.MasterIndex, br.Attrs().Index, a.Flags, a.TxQLen, a.HardwareAddr, a.Index, vm.HostTapIndex)
	}
	neighs, err := netlink.NeighList(br.Attrs().Index, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	var static bool
	for _, n := range neighs {
		static = static || n.IP.Equal(net.IP(vm.IP.AsSlice())) && n.HardwareAddr.String() == vm.MAC && n.State == netlink.NUD_PERMANENT
	}
	if !static {
		t.Errorf("no permanent neighbour %s -> %s on %s: %v", vm.IP, vm.MAC, lab.Bridge, neighs)
	}
	saved, err := LoadLayout(lab.ID)
	if err != nil {
		t.Fatal(err)
	}
	if saved.VMs[0].PID != os.Getpid() || saved.HostIP != lab.HostIP || !saved.VMs[0].External {
		t.Errorf("saved layout %+v: want the VMM pid %d, host IP and external flag recorded", saved, os.Getpid())
	}
	if _, err := vm.Counters(); err == nil {
		t.Error("Counters of an external VM: want an error, got none")
	}
}

func TestAdoptTapRefusesBuiltInVMM(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	if err := lab.VM(0).AdoptTap(os.Getpid(), 0); err == nil {
		t.Error("AdoptTap on a built-in VMM's VM: want an error, got none")
	}
}
