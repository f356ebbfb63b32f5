package vmlab

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// A paused VMM leaves the host tap's ring full: tun_net_xmit stores a frame
// with ptr_ring_produce, which fails once all txqueuelen slots hold a frame
// (a ptr_ring of size N holds N entries; tun resizes it to the new
// txqueuelen on NETDEV_CHANGE_TX_QUEUE_LEN), and drops the frame as
// FULL_RING, counting tx_dropped. So of 1000 frames exactly txqueuelen are
// held and 1000 - txqueuelen dropped; tun counts tx_packets only when the
// VMM reads a frame, so it stays 0 until resume, when the VMM delivers
// exactly the held frames. 200 shows the ring follows a second change.
func TestPausedVMMFillsTapRing(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	vm := lab.VM(0)
	const burst = 1000
	for _, qlen := range []int{64, 200} {
		t.Run(fmt.Sprint("txqueuelen=", qlen), func(t *testing.T) {
			if err := vm.SetTxQueueLen(qlen); err != nil {
				t.Fatal(err)
			}
			if got, err := vm.TxQueueLen(); err != nil || got != qlen {
				t.Fatalf("txqueuelen = %d, %v; want %d", got, err, qlen)
			}
			rx, err := ListenUDP(vm.Guest(), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer rx.Close()
			before := settle(t, lab)
			if err := vm.Control.Pause(vmmctl.ToGuest); err != nil {
				t.Fatal(err)
			}
			sent, err := SendUDP(testenv.Context(t, 10*time.Second), lab.Client(), rx.Addr(), UDPSpec{Count: burst, Size: 64, Rate: pace})
			if err != nil || sent != burst {
				t.Fatalf("sent %d of %d: %v", sent, burst, err)
			}
			held := uint64(qlen)
			d := settle(t, lab).Sub(before)
			v := d.VMs[0]
			if d.HostVeth.RxPackets != burst || v.HostTap.TxDropped != burst-held || v.HostTap.TxPackets != 0 ||
				v.VMM.ToGuest.FramesRead != 0 || rx.Packets() != 0 {
				t.Fatalf("paused: bridge got %d, tap tx_dropped %d (want %d), tap tx_packets %d, vmm read %d, guest got %d (want 0)",
					d.HostVeth.RxPackets, v.HostTap.TxDropped, burst-held, v.HostTap.TxPackets, v.VMM.ToGuest.FramesRead, rx.Packets())
			}
			if err := vm.Control.Resume(vmmctl.ToGuest); err != nil {
				t.Fatal(err)
			}
			got := rx.Wait(testenv.Context(t, 10*time.Second), held+1, 200*time.Millisecond)
			v = settle(t, lab).Sub(before).VMs[0]
			if got != held || v.VMM.ToGuest.FramesRead != held || v.VMM.ToGuest.FramesWritten != held ||
				v.HostTap.TxPackets != held || v.HostTap.TxDropped != burst-held || v.GuestDev.RxPackets != held {
				t.Fatalf("resumed: guest socket got %d, vmm read %d wrote %d, tap tx_packets %d tx_dropped %d, guest dev rx %d; want %d delivered, %d dropped",
					got, v.VMM.ToGuest.FramesRead, v.VMM.ToGuest.FramesWritten, v.HostTap.TxPackets, v.HostTap.TxDropped, v.GuestDev.RxPackets, held, burst-held)
			}
		})
	}
}

// A slowed VMM drains slower than the sender fills: the ring overflows and
// every frame is either delivered or counted in tx_dropped, nothing else.
func TestSlowVMMDropsExactly(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{TxQueueLen: 32})
	vm := lab.VM(0)
	if err := vm.Control.SetDelay(500 * time.Microsecond); err != nil {
		t.Fatal(err)
	}
	const burst = 400
	before := settle(t, lab)
	res, err := UDPBurst(testenv.Context(t, 20*time.Second), lab.Client(), vm.Guest(), UDPSpec{Count: burst, Size: 200, Rate: 4000}, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	v := settle(t, lab).Sub(before).VMs[0]
	if v.HostTap.TxDropped == 0 || v.HostTap.TxDropped+res.Received != burst || v.VMM.ToGuest.FramesWritten != res.Received ||
		v.VMM.ToGuest.FramesRead != res.Received || v.HostTap.TxPackets != res.Received || v.GuestDev.RxPackets != res.Received {
		t.Fatalf("slowed: sent %d, guest got %d, tap tx_dropped %d tx_packets %d, vmm read %d wrote %d, guest dev rx %d",
			res.Sent, res.Received, v.HostTap.TxDropped, v.HostTap.TxPackets, v.VMM.ToGuest.FramesRead, v.VMM.ToGuest.FramesWritten, v.GuestDev.RxPackets)
	}
	t.Logf("slowed by 500us/frame, txqueuelen 32: %d of %d delivered, %d FULL_RING drops", res.Received, burst, v.HostTap.TxDropped)
}

// The drop-all socket filter makes tun_net_xmit drop every frame (TAP_FILTER)
// before the ring: tx_dropped rises by exactly N, the VMM reads nothing.
func TestTapFilterDropsExactly(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	vm := lab.VM(0)
	const n = 300
	for _, tc := range []struct {
		mode      vmmctl.FilterMode
		delivered uint64
	}{{vmmctl.FilterDropAll, 0}, {vmmctl.FilterNone, n}} {
		if err := vm.Control.TapFilter(tc.mode); err != nil {
			t.Fatal(err)
		}
		before := settle(t, lab)
		res, err := UDPBurst(testenv.Context(t, 10*time.Second), lab.Client(), vm.Guest(), UDPSpec{Count: n, Size: 100, Rate: pace}, 200*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		v := settle(t, lab).Sub(before).VMs[0]
		if res.Received != tc.delivered || v.HostTap.TxDropped != n-tc.delivered || v.VMM.ToGuest.FramesRead != tc.delivered || v.VMM.TapFilter != tc.mode ||
			v.HostTap.TxPackets != tc.delivered || v.GuestDev.RxPackets != tc.delivered {
			t.Fatalf("filter %s: guest got %d, tap tx_dropped %d tx_packets %d, vmm read %d, guest dev rx %d; want %d delivered, %d dropped",
				tc.mode, res.Received, v.HostTap.TxDropped, v.HostTap.TxPackets, v.VMM.ToGuest.FramesRead, v.GuestDev.RxPackets, tc.delivered, n-tc.delivered)
		}
	}
}

// tbf on the client veth drops what its queue cannot hold: every datagram is
// either dropped by the qdisc or delivered through the VMM.
func TestTBFOnClientVeth(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	vm := lab.VM(0)
	if err := lab.SetClientTBF(TBF{Rate: 1 << 20, Burst: 4 << 10, Limit: 8 << 10}); err != nil {
		t.Fatal(err)
	}
	q0, err := lab.ClientQdiscStats()
	if err != nil || q0.Kind != "tbf" {
		t.Fatalf("root qdisc %+v, %v; want tbf", q0, err)
	}
	const n = 200
	before := settle(t, lab)
	res, err := UDPBurst(testenv.Context(t, 10*time.Second), lab.Client(), vm.Guest(), UDPSpec{Count: n, Size: 1000}, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	d := settle(t, lab).Sub(before)
	v := d.VMs[0]
	q, err := lab.ClientQdiscStats()
	if err != nil {
		t.Fatal(err)
	}
	// What tbf let through is what the veth sent and the tap carried.
	drops, passed := uint64(q.Drops-q0.Drops), uint64(q.Packets-q0.Packets)
	if drops == 0 || res.Sent != n || res.Received+drops != n || v.VMM.ToGuest.FramesWritten != res.Received || v.HostTap.TxDropped != 0 ||
		passed != res.Received || d.ClientDev.TxPackets != res.Received || v.HostTap.TxPackets != res.Received {
		t.Fatalf("tbf: sent %d, qdisc drops %d passed %d, client dev tx %d, guest got %d, vmm wrote %d, tap tx_packets %d tx_dropped %d",
			res.Sent, drops, passed, d.ClientDev.TxPackets, res.Received, v.VMM.ToGuest.FramesWritten, v.HostTap.TxPackets, v.HostTap.TxDropped)
	}
	if err := lab.ClearClientTBF(); err != nil {
		t.Fatal(err)
	}
	if q, err := lab.ClientQdiscStats(); err == nil && q.Kind == "tbf" {
		t.Fatalf("tbf still installed after ClearClientTBF")
	}
}

// Drop-every-Nth drops exactly every Nth frame the worker reads.
func TestDropEveryNth(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	vm := lab.VM(0)
	if err := vm.Control.DropEveryNth(vmmctl.ToGuest, 10); err != nil {
		t.Fatal(err)
	}
	before := settle(t, lab)
	res, err := UDPBurst(testenv.Context(t, 10*time.Second), lab.Client(), vm.Guest(), UDPSpec{Count: 100, Size: 100, Rate: 20000}, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	v := settle(t, lab).Sub(before).VMs[0]
	if res.Received != 90 || v.VMM.ToGuest.FramesDropped != 10 || v.VMM.ToGuest.FramesRead != 100 ||
		v.VMM.ToGuest.FramesWritten != 90 || v.HostTap.TxPackets != 100 || v.GuestDev.RxPackets != 90 {
		t.Fatalf("drop every 10th of 100: guest got %d, vmm dropped %d of %d read, wrote %d, tap tx_packets %d, guest dev rx %d",
			res.Received, v.VMM.ToGuest.FramesDropped, v.VMM.ToGuest.FramesRead, v.VMM.ToGuest.FramesWritten, v.HostTap.TxPackets, v.GuestDev.RxPackets)
	}
}

func TestAllCPUsMask(t *testing.T) {
	for n, want := range map[int]string{1: "1", 2: "3", 32: "ffffffff", 33: "1,ffffffff", 72: "ff,ffffffff,ffffffff"} {
		if got := allCPUs(n); got != want {
			t.Errorf("allCPUs(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestBatchedBurst: a burst sent 32 datagrams per sendmmsg, the last call
// short, reaches the guest whole, and the tap carried each datagram once.
func TestBatchedBurst(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	lab := NewT(t, Options{})
	vm := lab.VM(0)
	const n = 100
	before := settle(t, lab)
	res, err := UDPBurst(testenv.Context(t, 10*time.Second), lab.Client(), vm.Guest(), UDPSpec{Count: n, Size: 64, Batch: 32}, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	d := settle(t, lab).Sub(before)
	v := d.VMs[0]
	if res.Sent != n || res.Received != n || v.HostTap.TxPackets != n || v.VMM.ToGuest.FramesWritten != n {
		t.Fatalf("sent %d, guest got %d, tap tx_packets %d, vmm wrote %d; want %d each", res.Sent, res.Received, v.HostTap.TxPackets, v.VMM.ToGuest.FramesWritten, n)
	}
	if _, err := SendUDP(t.Context(), lab.Client(), netip.MustParseAddrPort("198.18.0.1:9"), UDPSpec{Count: 1, Size: 64, Batch: 2, Rate: 10}); err == nil {
		t.Fatal("a batch with a rate was accepted")
	}
}
