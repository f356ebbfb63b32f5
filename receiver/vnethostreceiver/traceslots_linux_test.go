//go:build linux

package vnethostreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// TestTraceSlotsCountFollowedPackets: with every packet followed through
// ring drops and retransmissions, each trace_slots slot counts exactly the
// followed skbs hashed to it (probes.Set.CheckFollowed). The lab's host path
// frees every followed skb where a tracepoint sees it; the guest's does
// not, and its twin in vnetguestreceiver is the one that caught the leak.
func TestTraceSlotsCountFollowedPackets(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{TxQueueLen: 16})
	vm := lab.VM(0)
	cfg := labConfig()
	cfg.Tracing.SamplingRatio = 1
	cfg.Tracing.MaxSpansPerSecond = 0
	s := openScraper(t, cfg, consumertest.NewNop())
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })

	for round := range 4 {
		if round%2 == 1 { // a stalled VMM: the 16-slot ring overflows
			require.NoError(t, vm.Control.Pause(vmmctl.ToGuest))
			time.AfterFunc(200*time.Millisecond, func() { _ = vm.Control.Resume(vmmctl.ToGuest) })
		}
		res, err := vmlab.TCPBulk(testenv.Context(t, 30*time.Second), lab.Client(), vm.Guest(), 2<<20)
		require.NoError(t, err)
		require.True(t, res.Exact())
	}
	_, err := lab.Settle(testenv.Context(t, 10*time.Second), 200*time.Millisecond)
	require.NoError(t, err)

	require.NoError(t, s.inst.probes.CheckFollowed())
}
