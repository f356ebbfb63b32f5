//go:build linux

package pathtest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver"
)

// TestQdiscHeldPacketsKeepHostRx: tbf on the tap holds datagrams to the
// guest and releases them from its watchdog's softirq, not from the one that
// received them. Every trace still has its host.rx, ending where tap.enqueue
// begins (queued to the tap), and tap.enqueue lasts until the tap's xmit:
// the last datagram's covers the wait tbf imposes on it.
func TestQdiscHeldPacketsKeepHostRx(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	const n, size, frame = 40, 100, 14 + 20 + 8 + 100
	// One frame's burst, 1 Mbit/s: 11 frames pass at once, the rest leave
	// 1.136 ms apart; the limit holds them all.
	tbf := vmlab.TBF{Rate: 125000, Burst: 1514, Limit: 64 << 10}
	require.NoError(t, vm.SetTapTBF(tbf))
	sink := new(consumertest.TracesSink)
	startHost(t, lab, sink, func(c *vnethostreceiver.Config) { c.Tracing.SamplingRatio = 1 })
	startGuest(t, vm, sink, func(c *vnetguestreceiver.Config) { c.Tracing.SamplingRatio = 1 })
	time.Sleep(200 * time.Millisecond) // the host's first discovery names the tap

	res, err := vmlab.UDPBurst(context.Background(), lab.Client(), vm.Guest(), vmlab.UDPSpec{Count: n, Size: size}, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, uint64(n), res.Received, "tbf's limit holds every datagram")
	settle(sink, 500*time.Millisecond, 10*time.Second)

	traces := byTrace(spans(sink), flowTo(lab, vm, "udp"))
	require.Len(t, traces, n, "one trace per datagram")
	var enqueues []span
	for id, ss := range traces {
		var names []string
		for _, s := range ss {
			names = append(names, s.name)
		}
		require.Equal(t, []string{"packet", "host.rx", "tap.enqueue", "tap.ring", "virtio.rx"}, names, "trace %s", id)
		rx, enq, ring := ss[1], ss[2], ss[3]
		require.Equal(t, rx.end, enq.start, "trace %s: host.rx ends where tap.enqueue begins", id)
		require.Equal(t, enq.end, ring.start, "trace %s: tap.enqueue ends where tap.ring begins", id)
		require.Equal(t, lab.HostVeth, rx.str("network.interface.name"), "received on the client's bridge port")
		require.Equal(t, vm.HostTap, enq.str("network.interface.name"))
		enqueues = append(enqueues, enq)
	}
	// tbf can send the last datagram no sooner than its bytes beyond the
	// burst take at its rate after the first was queued.
	sort.Slice(enqueues, func(i, j int) bool { return enqueues[i].end.Before(enqueues[j].end) })
	last, firstQueued := enqueues[n-1], enqueues[0].start
	for _, e := range enqueues {
		if e.start.Before(firstQueued) {
			firstQueued = e.start
		}
	}
	wait := time.Duration(float64(n*frame-int(tbf.Burst)) / float64(tbf.Rate) * float64(time.Second))
	minQueued := wait - last.start.Sub(firstQueued)
	t.Logf("last datagram: %s in tbf, at least %s by its rate; sent %s after the first was queued",
		last.end.Sub(last.start), minQueued, last.end.Sub(firstQueued))
	require.GreaterOrEqual(t, last.end.Sub(last.start), minQueued-time.Millisecond,
		"the last datagram's tap.enqueue covers its wait in tbf (sent %s after the first was queued)", last.end.Sub(firstQueued))
}
