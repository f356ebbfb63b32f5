//go:build linux

package pathtest

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/vnetpath/vnetpath/internal/identity"
	"github.com/vnetpath/vnetpath/internal/pathtrace"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver"
)

// TestHostAndGuestSampleTheSamePackets: two collectors, one on the host
// and one in the guest, each sampling 10%, pick the same packets out of
// 10 000 without talking, and their spans join under one root per packet.
func TestHostAndGuestSampleTheSamePackets(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	hostSink, guestSink := new(consumertest.TracesSink), new(consumertest.TracesSink)
	const ratio = 0.1
	startHost(t, lab, hostSink, func(c *vnethostreceiver.Config) { c.Tracing.SamplingRatio = ratio })
	startGuest(t, vm, guestSink, func(c *vnetguestreceiver.Config) { c.Tracing.SamplingRatio = ratio })
	time.Sleep(200 * time.Millisecond)

	const n = 10000
	res, err := vmlab.UDPBurst(context.Background(), lab.Client(), vm.Guest(), vmlab.UDPSpec{Count: n, Size: 64, Rate: 10000}, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, uint64(n), res.Received)
	settle(hostSink, 500*time.Millisecond, 10*time.Second)
	settle(guestSink, 500*time.Millisecond, 10*time.Second)

	keep := flowTo(lab, vm, "udp")
	host, guest := byTrace(spans(hostSink), keep), byTrace(spans(guestSink), keep)
	require.Equal(t, traceIDs(host), traceIDs(guest), "both sides picked the same packets")
	// 10% of 10 000 distinct identities, within 5 standard deviations.
	require.InDelta(t, n/10, len(host), 5*30, "sampled %d of %d", len(host), n)

	key := identity.NewKey(pathtrace.DefaultKey)
	_, threshold, err := identity.Sampling(ratio)
	require.NoError(t, err)
	for id, hs := range host {
		root := identity.RootSpanID(key, id)
		require.Equal(t, "packet", hs[0].name)
		require.Equal(t, root, hs[0].id)
		// The kernel sampled by identity.SampleHash: the identity rebuilt
		// from the root's attributes names this trace and hashes under the
		// threshold (host and guest agreeing would not catch a kernel hash
		// that drifted from the Go one on both sides).
		flow, err := identity.UDP(netip.AddrPortFrom(lab.ClientIP, uint16(hs[0].int("source.port"))),
			netip.AddrPortFrom(vm.IP, uint16(hs[0].int("destination.port"))), uint32(hs[0].int("vnet.packet.ip.id")))
		require.NoError(t, err)
		require.Equal(t, id, identity.TraceID(key, flow))
		require.Less(t, identity.SampleHash(key, flow), threshold)
		gs := guest[id]
		require.Len(t, gs, 1)
		require.Equal(t, "virtio.rx", gs[0].name)
		require.Equal(t, root, gs[0].parent, "the guest's hop joins the host's root")
	}
}

func traceIDs(traces map[pcommon.TraceID][]span) map[pcommon.TraceID]bool {
	out := map[pcommon.TraceID]bool{}
	for id := range traces {
		out[id] = true
	}
	return out
}
