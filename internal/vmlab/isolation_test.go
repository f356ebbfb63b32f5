package vmlab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

// Traffic to one VM is never seen by another VM's VMM, nor by its taps.
func TestTwoVMsIsolation(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{VMs: 2})
	vm0 := lab.VM(0)
	before := settle(t, lab)
	ctx := testenv.Context(t, 30*time.Second)
	udp, err := UDPBurst(ctx, lab.Client(), vm0.Guest(), UDPSpec{Count: 500, Size: 300, Rate: pace}, 200*time.Millisecond)
	if err != nil || udp.Received != 500 {
		t.Fatalf("udp to vm0: %+v, %v", udp, err)
	}
	tcp, err := TCPBulk(ctx, vm0.Guest(), lab.Client(), 1<<20)
	if err != nil || !tcp.Exact() {
		t.Fatalf("tcp from vm0: %+v, %v", tcp, err)
	}
	rr, err := TCPRequestResponse(ctx, lab.Client(), vm0.Guest(), 100, 64, 512)
	if err != nil || rr.Responses != 100 {
		t.Fatalf("tcp rr with vm0: %+v, %v", rr, err)
	}
	d := settle(t, lab).Sub(before)
	if v := d.VMs[1]; !untouched(v) {
		t.Fatalf("vm1 saw vm0's traffic: %+v", v)
	}
	if v := d.VMs[0]; v.VMM.ToGuest.FramesWritten < 500 || v.VMM.FromGuest.FramesWritten == 0 {
		t.Fatalf("vm0 counters %+v", v)
	}
	checkConserved(t, "vm0", d, 0)
}

// With IPv6 off, static ARP and FDB entries and no STP, an idle lab sends
// nothing at all: no counter anywhere moves.
func TestIdleLabIsSilent(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{VMs: 2})
	before, err := lab.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Traffic first, so neighbour and FDB state is exercised, then silence.
	if _, err := UDPBurst(testenv.Context(t, 10*time.Second), lab.VM(1).Guest(), lab.Client(), UDPSpec{Count: 10, Size: 10}, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	mid := settle(t, lab)
	time.Sleep(time.Second)
	after, err := lab.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if d := after.Sub(mid); d.ClientDev != (LinkStats{}) || d.HostVeth != (LinkStats{}) || !untouched(d.VMs[0]) || !untouched(d.VMs[1]) {
		t.Fatalf("idle lab moved: %+v", d)
	}
	// From creation on, only the test's 10 datagrams ever crossed the lab.
	if d := after.Sub(before); d.ClientDev.RxPackets != 10 || d.ClientDev.TxPackets != 0 || d.VMs[1].GuestDev.TxPackets != 10 || !untouched(d.VMs[0]) {
		t.Fatalf("since creation: %+v", d)
	}
}

// The lab meets the discovery contract of a libvirt host: the VMM's cmdline
// carries -name guest=<vm>, each tun fd's fdinfo names its tap, and the
// packet-moving thread is a thread of the VMM named vhost-<pid>.
func TestDiscoveryContract(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	vm := lab.VM(0)
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", vm.PID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cmdline), "\x00-name\x00guest="+vm.Name+",") {
		t.Errorf("cmdline %q lacks -name guest=%s", cmdline, vm.Name)
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/comm", vm.PID, vm.WorkerTID))
	if err != nil || strings.TrimSpace(string(comm)) != fmt.Sprintf("vhost-%d", vm.PID) {
		t.Errorf("worker %d comm %q, %v; want vhost-%d", vm.WorkerTID, comm, err, vm.PID)
	}
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", vm.PID))
	if err != nil {
		t.Fatal(err)
	}
	iffs := map[string]bool{}
	for _, fd := range fds {
		if target, _ := os.Readlink(fd); target != "/dev/net/tun" {
			continue
		}
		info, err := os.ReadFile(strings.Replace(fd, "/fd/", "/fdinfo/", 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(info), "\n") {
			if name, ok := strings.CutPrefix(line, "iff:\t"); ok {
				iffs[name] = true
			}
		}
	}
	if len(iffs) != 2 || !iffs[vm.HostTap] || !iffs[vm.GuestDev] {
		t.Errorf("tun fds name %v; want %s and %s", iffs, vm.HostTap, vm.GuestDev)
	}
	if !strings.HasPrefix(vm.HostTap, "vnet") || vm.NetnsPath() != "/var/run/netns/"+vm.Name {
		t.Errorf("host tap %q, netns %q", vm.HostTap, vm.NetnsPath())
	}
}

// SIGUSR1 receipts are counted (a remediation action signals the VMM).
func TestSIGUSR1Counted(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	vm := lab.VM(0)
	for i := 1; i <= 3; i++ {
		if err := syscall.Kill(vm.PID, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		// Standard signals coalesce while pending: wait for each receipt.
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, err := vm.Control.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.SIGUSR1 == uint64(i) {
				break
			}
			if st.SIGUSR1 > uint64(i) || time.Now().After(deadline) {
				t.Fatalf("after %d signals the vmm counted %d", i, st.SIGUSR1)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// 16 VMs at once, each gets its own count, exactly, and only its own.
func TestSixteenVMs(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{VMs: MaxVMs})
	before := settle(t, lab)
	taps := map[string]bool{}
	ctx := testenv.Context(t, 60*time.Second)
	for i, vm := range lab.AllVMs() {
		taps[vm.HostTap] = true
		res, err := UDPBurst(ctx, lab.Client(), vm.Guest(), UDPSpec{Count: 10 * (i + 1), Size: 64, Rate: pace}, 100*time.Millisecond)
		if err != nil || res.Received != uint64(10*(i+1)) {
			t.Fatalf("vm%d: %+v, %v", i, res, err)
		}
	}
	d := settle(t, lab).Sub(before)
	for i, v := range d.VMs {
		want := uint64(10 * (i + 1))
		if v.VMM.ToGuest.FramesWritten != want || v.HostTap.TxPackets != want || v.GuestDev.RxPackets != want || v.VMM.FromGuest.FramesRead != 0 {
			t.Errorf("vm%d: vmm to_guest %+v, tap %+v, guest %+v; want %d frames", i, v.VMM.ToGuest, v.HostTap, v.GuestDev, want)
		}
	}
	if len(taps) != MaxVMs {
		t.Errorf("host taps %v not distinct", taps)
	}
}

// Two labs at once in one process: distinct names, subnets and taps, and
// each carries its own traffic.
func TestTwoLabsConcurrently(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	labs := make([]*Lab, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range labs {
		wg.Go(func() {
			labs[i], errs[i] = New(t.Context(), Options{VMs: 2})
		})
	}
	wg.Wait()
	for i, l := range labs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() {
			if err := l.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	a, b := labs[0], labs[1]
	if a.ID == b.ID || a.Subnet.Overlaps(b.Subnet) || a.Bridge == b.Bridge || a.VM(0).HostTap == b.VM(0).HostTap || a.VM(1).HostTap == b.VM(1).HostTap {
		t.Fatalf("labs collide: %+v / %+v", a.Layout, b.Layout)
	}
	for _, l := range labs {
		wg.Go(func() {
			for _, vm := range l.AllVMs() {
				res, err := UDPBurst(testenv.Context(t, 10*time.Second), l.Client(), vm.Guest(), UDPSpec{Count: 200, Size: 64, Rate: pace}, 100*time.Millisecond)
				if err != nil || res.Received != 200 {
					t.Errorf("%s %s: %+v, %v", l.ID, vm.Name, res, err)
				}
				st, err := vm.Control.Stats()
				if err != nil || st.ToGuest.FramesWritten != 200 {
					t.Errorf("%s %s: vmm %+v, %v", l.ID, vm.Name, st.ToGuest, err)
				}
			}
		})
	}
	wg.Wait()
}
