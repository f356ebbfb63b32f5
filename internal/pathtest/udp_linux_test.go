//go:build linux

package pathtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/vnetpath/vnetpath/internal/identity"
	"github.com/vnetpath/vnetpath/internal/pathtrace"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver"
)

// TestUDPToGuestOneTracePerPacket: with every packet followed, N datagrams
// to the guest make exactly N traces, each host.rx -> tap.enqueue ->
// tap.ring -> virtio.rx under its root, in time order.
func TestUDPToGuestOneTracePerPacket(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	sink := new(consumertest.TracesSink)
	startHost(t, lab, sink, func(c *vnethostreceiver.Config) { c.Tracing.SamplingRatio = 1 })
	startGuest(t, vm, sink, func(c *vnetguestreceiver.Config) { c.Tracing.SamplingRatio = 1 })
	time.Sleep(200 * time.Millisecond) // the host's first discovery names the tap

	const n, size = 200, 100
	res, err := vmlab.UDPBurst(context.Background(), lab.Client(), vm.Guest(), vmlab.UDPSpec{Count: n, Size: size, Rate: 2000}, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, uint64(n), res.Received)
	settle(sink, 500*time.Millisecond, 10*time.Second)

	key := identity.NewKey(pathtrace.DefaultKey)
	traces := byTrace(spans(sink), flowTo(lab, vm, "udp"))
	require.Len(t, traces, n, "one trace per datagram")
	for id, ss := range traces {
		var names []string
		for _, s := range ss {
			names = append(names, s.name)
		}
		require.Equal(t, []string{"packet", "host.rx", "tap.enqueue", "tap.ring", "virtio.rx"}, names, "trace %s", id)
		root := ss[0]
		require.True(t, root.parent.IsEmpty())
		for _, s := range ss[1:] {
			require.Equal(t, root.id, s.parent, "%s parent", s.name)
			require.Equal(t, id, s.trace)
			require.False(t, s.end.Before(s.start), "%s ends before it starts", s.name)
		}
		// Along the path: each hop ends no earlier than the one before.
		for i := 2; i < len(ss); i++ {
			require.False(t, ss[i].end.Before(ss[i-1].end), "%s ends before %s", ss[i].name, ss[i-1].name)
		}
		require.Equal(t, identity.RootSpanID(key, id), root.id)
		enq, ring, vrx := ss[2], ss[3], ss[4]
		require.Equal(t, vm.HostTap, enq.str("network.interface.name"))
		require.Equal(t, vm.Name, enq.str("vm.name"))
		require.Equal(t, int64(vm.PID), ring.int("process.pid"))
		require.Equal(t, fmt.Sprintf("vhost-%d", vm.PID), ring.str("thread.name"), "dequeued by the VM's worker")
		require.Equal(t, int64(vm.WorkerTID), ring.int("thread.id"))
		require.Equal(t, vm.GuestDev, vrx.str("network.interface.name"))
		require.Equal(t, "vnetpath-host", enq.service)
		require.Equal(t, "vnetpath-guest", vrx.service)
		// skb->len: the frame on the host's side of the tap, the IP packet
		// once the guest NIC has pulled the Ethernet header.
		const frame = 14 + 20 + 8 + size
		for _, s := range ss[1:4] {
			require.Equal(t, int64(frame), s.int("vnet.packet.length"), s.name)
		}
		require.Equal(t, int64(frame-14), vrx.int("vnet.packet.length"))
	}
}
