//go:build linux

package vnetguestreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
)

// TestTraceSlotsCountFollowedPackets: every free in the guest asks
// trace_slots before it looks an skb up, so each slot must count exactly
// the followed skbs hashed to it. TCP coalesces segments into its backlog
// with no tracepoint, and the slab hands their addresses out again: a
// slot counted twice for one skb would never return to zero, and every
// free hashed to it would pay the lookup from then on.
func TestTraceSlotsCountFollowedPackets(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	cfg := labGuestConfig(vm)
	cfg.Tracing.SamplingRatio = 1
	cfg.Tracing.MaxSpansPerSecond = 0
	s := startGuestScraper(t, cfg, true)

	for range 4 {
		res, err := vmlab.TCPBulk(testenv.Context(t, 30*time.Second), lab.Client(), vm.Guest(), 4<<20)
		require.NoError(t, err)
		require.True(t, res.Exact())
	}
	_, err := lab.Settle(testenv.Context(t, 10*time.Second), 200*time.Millisecond)
	require.NoError(t, err)

	require.NoError(t, s.inst.probes.CheckFollowed())
}
