//go:build linux

package pathtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver"
)

// tcpWithRingDrops sends a TCP stream to the guest while its VMM stalls,
// so the tap's 16-slot ring overflows (FULL_RING), then lets it recover.
// It returns the tap's tx_dropped delta, the ground truth.
func tcpWithRingDrops(t *testing.T, lab *vmlab.Lab, vm *vmlab.VM) uint64 {
	t.Helper()
	before, err := vm.HostTapStats()
	require.NoError(t, err)
	require.NoError(t, vm.Control.Pause(vmmctl.ToGuest))
	done := make(chan vmlab.TCPResult, 1)
	go func() {
		res, err := vmlab.TCPBulk(context.Background(), lab.Client(), vm.Guest(), 512<<10)
		require.NoError(t, err)
		done <- res
	}()
	time.Sleep(400 * time.Millisecond)
	require.NoError(t, vm.Control.Resume(vmmctl.ToGuest))
	res := <-done
	require.True(t, res.Exact(), "transfer not byte-exact")
	after, err := vm.HostTapStats()
	require.NoError(t, err)
	return after.Sub(before).TxDropped
}

func isStream(lab *vmlab.Lab, vm *vmlab.VM) func(span) bool {
	return func(s span) bool {
		return s.str("network.transport") == "tcp" && s.str("source.address") == lab.ClientIP.String() &&
			s.str("destination.address") == vm.IP.String()
	}
}

// dropTraces returns the traces holding a FULL_RING drop span.
func dropTraces(traces map[pcommon.TraceID][]span) map[pcommon.TraceID][]span {
	out := map[pcommon.TraceID][]span{}
	for id, ss := range traces {
		for _, s := range ss {
			if s.name == "drop" && s.str("vnet.drop.reason") == "FULL_RING" {
				out[id] = ss
				break
			}
		}
	}
	return out
}

// TestDroppedSegmentsAndTheirRetransmission: with no sampling, every
// segment the tap drops is traced with its reason, and the retransmission
// of that identity is followed into the tap ring in the same trace.
func TestDroppedSegmentsAndTheirRetransmission(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{TxQueueLen: 16})
	vm := lab.VM(0)
	sink := new(consumertest.TracesSink)
	startHost(t, sink, func(c *vnethostreceiver.Config) { c.Tracing.SamplingRatio = 0 })
	time.Sleep(200 * time.Millisecond)

	dropped := tcpWithRingDrops(t, lab, vm)
	require.NotZero(t, dropped, "the stalled VMM caused no ring drop")
	settle(sink, 500*time.Millisecond, 10*time.Second)

	traces := byTrace(spans(sink), isStream(lab, vm))
	drops := 0
	for _, ss := range traces {
		for _, s := range ss {
			if s.name == "drop" {
				require.Equal(t, "FULL_RING", s.str("vnet.drop.reason"))
				require.Equal(t, "dropped: FULL_RING", s.errorMessage)
				require.Equal(t, vm.HostTap, s.str("network.interface.name"))
				drops++
			}
		}
	}
	require.Equal(t, int(dropped), drops, "one drop span per packet the tap dropped")
	t.Logf("%d segments dropped at the tap, %d traces with a drop", dropped, len(dropTraces(traces)))
	for id, ss := range dropTraces(traces) {
		var firstDrop, delivered *span
		for i := range ss {
			s := &ss[i]
			switch {
			case s.name == "drop" && firstDrop == nil:
				firstDrop = s
			case s.name == "tap.ring" && firstDrop != nil && !s.start.Before(firstDrop.end):
				delivered = s
			}
		}
		require.NotNil(t, delivered, "trace %s: no delivery after the drop: %v", id, names(ss))
		require.True(t, delivered.attrs.AsRaw()["vnet.packet.retransmission"] == true)
	}
}

func names(ss []span) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.name)
	}
	return out
}

// TestRetransmissionReachesGuestTCP: with every packet followed, the trace
// of a dropped segment also holds the guest's virtio.rx and tcp.rcv of its
// retransmission.
func TestRetransmissionReachesGuestTCP(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{TxQueueLen: 16})
	vm := lab.VM(0)
	sink := new(consumertest.TracesSink)
	startHost(t, sink, func(c *vnethostreceiver.Config) {
		c.Tracing.SamplingRatio = 1
		c.Tracing.MaxSpansPerSecond = 0
	})
	startGuest(t, vm, sink, func(c *vnetguestreceiver.Config) {
		c.Tracing.SamplingRatio = 1
		c.Tracing.MaxSpansPerSecond = 0
	})
	time.Sleep(200 * time.Millisecond)

	require.NotZero(t, tcpWithRingDrops(t, lab, vm))
	settle(sink, 500*time.Millisecond, 15*time.Second)

	withDrops := dropTraces(byTrace(spans(sink), isStream(lab, vm)))
	require.NotEmpty(t, withDrops)
	for id, ss := range withDrops {
		var sawDrop, sawRx, sawTCP bool
		for _, s := range ss {
			switch s.name {
			case "drop":
				sawDrop = true
			case "virtio.rx":
				sawRx = sawRx || sawDrop
			case "tcp.rcv":
				sawTCP = sawTCP || sawRx
				require.NotZero(t, s.attrs.AsRaw()["vnet.tcp.cwnd"])
			}
		}
		require.True(t, sawRx && sawTCP, "trace %s: %v", id, names(ss))
	}
}
