//go:build linux

package vnethostreceiver

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/netdev"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadatatest"
)

// TestGoneEntriesForgotten: a discovery refresh removes the kernel-inserted
// entries of devices gone from a watched namespace and of exited processes,
// and keeps every other entry.
func TestGoneEntriesForgotten(t *testing.T) {
	testenv.RequireRoot(t)
	cfg := labConfig()
	cfg.Probes = []string{probes.Drops, probes.NAPI, probes.KVM}
	s := startScraper(t, cfg)
	own, err := netdev.OwnNetNS()
	require.NoError(t, err)
	exited := exec.Command("/bin/true")
	require.NoError(t, exited.Run())
	ncpu, err := ebpf.PossibleCPU()
	require.NoError(t, err)

	const noDevice = 1<<31 - 1
	lo, goneDev, unwatched := probes.DevKey{NetNS: own, Ifindex: 1}, probes.DevKey{NetNS: own, Ifindex: noDevice}, probes.DevKey{NetNS: 1, Ifindex: noDevice}
	type entry struct {
		m    *ebpf.Map
		key  any
		kept bool
	}
	drops := s.inst.probes.Group(probes.Drops).Map("drop_counts")
	napi := s.inst.probes.Group(probes.NAPI).Map("napi_counters")
	kvm := s.inst.probes.Group(probes.KVM).Map("kvm_counters")
	entries := []entry{
		{drops, probes.DropKey{Dev: lo, Reason: 2}, true},
		{drops, probes.DropKey{Dev: goneDev, Reason: 2}, false},
		{drops, probes.DropKey{Dev: unwatched, Reason: 2}, true},
		{drops, probes.DropKey{Dev: probes.DevKey{NetNS: own}, Reason: 2}, true}, // no device: a drop before any
		{napi, lo, true},
		{napi, goneDev, false},
		{kvm, uint32(os.Getpid()), true},
		{kvm, uint32(exited.Process.Pid), false},
	}
	values := map[*ebpf.Map]any{drops: make([]uint64, ncpu), napi: make([]probes.NAPICounters, ncpu), kvm: make([]probes.KVMCounters, ncpu)}
	for _, e := range entries {
		require.NoError(t, e.m.Put(e.key, values[e.m]), "%s %+v", e.m, e.key)
	}
	present := func(e entry) bool {
		b, err := e.m.LookupBytes(e.key) // nil, nil when absent
		require.NoError(t, err)
		return b != nil
	}
	require.Eventually(t, func() bool {
		for _, e := range entries {
			if !e.kept && present(e) {
				return false
			}
		}
		return true
	}, 5*cfg.Discovery.Interval, 50*time.Millisecond, "entries of gone devices and processes still in the maps")
	for _, e := range entries {
		if e.kept {
			require.True(t, present(e), "%s lost %+v", e.m, e.key)
		}
	}
}

// TestRingSweepExpiresOldPackets: a refresh removes the followed packets
// older than ring.max_age, keeps the others, and counts what it removed.
func TestRingSweepExpiresOldPackets(t *testing.T) {
	testenv.RequireRoot(t)
	cfg := labConfig()
	cfg.Probes = []string{probes.Ring}
	cfg.Interfaces.Include = []string{"vnet-none-*"} // the kernel follows no packet of its own
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	s := newHostScraper(instanceFor(cfg, set), set)
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })

	type inflight struct {
		EnqueuedNs uint64
		Dev        probes.DevKey
	}
	var now unix.Timespec
	require.NoError(t, unix.ClockGettime(unix.CLOCK_MONOTONIC, &now))
	m := s.inst.probes.Group(probes.Ring).Map("ring_inflight")
	const old, young = uint64(0xdead0000), uint64(0xbeef0000)
	require.NoError(t, m.Put(old, inflight{EnqueuedNs: uint64(now.Nano()) - uint64(cfg.Ring.MaxAge) - 1}))
	require.NoError(t, m.Put(young, inflight{EnqueuedNs: uint64(now.Nano())}))
	require.Eventually(t, func() bool {
		b, err := m.LookupBytes(old)
		require.NoError(t, err)
		return b == nil
	}, 5*cfg.Discovery.Interval, 50*time.Millisecond, "an expired packet is still followed")
	b, err := m.LookupBytes(young)
	require.NoError(t, err)
	require.NotNil(t, b, "a packet younger than ring.max_age was forgotten")
	metadatatest.AssertEqualVnetHostRingExpired(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}
