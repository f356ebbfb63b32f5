//go:build linux

package vnethostreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// dropPrograms are the programs on kfree_skb and their twins.
var dropPrograms = []string{
	"vnet_kfree_skb", "vnet_trace_drop", "vnet_ring_drop",
	"vnet_kfree_skb_nested", "vnet_trace_drop_nested", "vnet_ring_drop_nested",
}

// TestDropsSeenWhileTheProgramsRun: a drop in a softirq that interrupted a
// drop program in process context is counted and traced all the same. The
// kernel skips the program for it, and the program's twin runs in its
// place. Rounds overflow the ring with UDP while every CPU frees skbs in
// process context and the bridge's NET_RX comes by IPI (RPS), until the
// kernel has skipped each drop program at least once. The ring group's
// program on kfree_skb, which forgets dropped packets, has a twin too.
func TestDropsSeenWhileTheProgramsRun(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{TxQueueLen: 64})
	vm := lab.VM(0)
	require.NoError(t, lab.SpreadClientRx())
	cfg := labConfig()
	cfg.Tracing.SamplingRatio = 0
	cfg.Tracing.MaxDropsPerSecond = 1 << 20 // every drop, for the exact count
	cfg.Tracing.FlushInterval = 100 * time.Millisecond
	sink := new(consumertest.TracesSink)
	s, tel := startTelemetryScraper(t, cfg, sink)
	progs := s.inst.probes.Programs()

	ctx, stop := context.WithCancel(context.Background())
	wait := vmlab.FreeInProcessContext(ctx)
	defer stop() // a failed round still ends the frees

	// tx_dropped counts every reason; the ring's overflow is FULL_RING.
	pairs := vmPairs(vm)
	before := scrapeIndexed(t, s)
	tapBefore, err := vm.HostTapStats()
	require.NoError(t, err)
	const maxRounds = 40
	rounds := 0
	for ; rounds < maxRounds && !allSkipped(t, progs); rounds++ {
		require.NoError(t, vm.Control.Pause(vmmctl.ToGuest))
		udpToGuest(t, lab, vm, 1000, 20000)
		require.NoError(t, vm.Control.Resume(vmmctl.ToGuest))
	}
	stop()
	require.NoError(t, wait())
	tapAfter, err := vm.HostTapStats()
	require.NoError(t, err)
	after := scrapeIndexed(t, s)
	require.True(t, allSkipped(t, progs), "the kernel skipped no drop program in %d rounds: nothing was tested", rounds)

	dropped := int64(tapAfter.Sub(tapBefore).TxDropped)
	counted := after.sum("vnet.packet.drops", pairs...) - before.sum("vnet.packet.drops", pairs...)
	// A twin's own skips may leave a drop untraced (checked below), so
	// the wait ends when the spans stop coming, not only at dropped.
	traced := settledDropSpans(sink, vm, dropped)

	t.Logf("drop series: %v", after.series("vnet.packet.drops", pairs...))
	lost := missedEvents(t, tel)
	skips := skipped(t, progs)
	t.Logf("%d rounds, %d drops, %d counted, %d traced; skipped %v; lost %d, %d and %d", rounds, dropped, counted, traced,
		skips, lost["vnet_kfree_skb"], lost["vnet_trace_drop"], lost["vnet_ring_drop"])
	// The ring's entries of dropped packets go too: what its twin made up
	// for is all but what the twin's own skips can hide.
	require.LessOrEqual(t, lost["vnet_ring_drop"], int64(skips["vnet_ring_drop_nested"]), "vnet_ring_drop")
	for name, seen := range map[string]int64{"vnet_kfree_skb": counted, "vnet_trace_drop": traced} {
		twinSkips := int64(skips[name+"_nested"])
		require.Less(t, lost[name], int64(skips[name]), "%s: its twin ran for none of the events it was skipped for", name)
		// Each skip of the twin can turn one drop into a loss or a double.
		require.LessOrEqual(t, seen-dropped, twinSkips, "%s: drops seen twice", name)
		require.LessOrEqual(t, dropped-seen, lost[name]+twinSkips, "%s: drops neither seen nor counted as lost", name)
	}
}

// missedEvents reads the receiver's missed events counter by program.
func missedEvents(t *testing.T, tel *componenttest.Telemetry) map[string]int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_vnet_host_probe_events_missed")
	require.NoError(t, err)
	out := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		program, _ := dp.Attributes.Value("program")
		out[program.AsString()] = dp.Value
	}
	return out
}

// skipped reads the drop programs' recursion_misses.
func skipped(t *testing.T, progs map[string]*ebpf.Program) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, name := range dropPrograms {
		st, err := progs[name].Stats()
		require.NoError(t, err)
		out[name] = st.RecursionMisses
	}
	return out
}

// allSkipped says whether the kernel has skipped each primary at least once.
func allSkipped(t *testing.T, progs map[string]*ebpf.Program) bool {
	skips := skipped(t, progs)
	return skips["vnet_kfree_skb"] > 0 && skips["vnet_trace_drop"] > 0
}

// settledDropSpans waits until vm's drop spans reach want, or stop coming
// for ten flush intervals (at most 10 s), and counts them.
func settledDropSpans(sink *consumertest.TracesSink, vm *vmlab.VM, want int64) int64 {
	n, since := dropSpans(sink, vm), time.Now()
	for deadline := time.Now().Add(10 * time.Second); n < want && time.Since(since) < time.Second && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if m := dropSpans(sink, vm); m != n {
			n, since = m, time.Now()
		}
	}
	return n
}

// dropSpans counts the drop spans on vm's tap.
func dropSpans(sink *consumertest.TracesSink, vm *vmlab.VM) int64 {
	return int64(countSpans(sink.AllTraces(), func(sp ptrace.Span) bool {
		dev, _ := sp.Attributes().Get("network.interface.name")
		return sp.Name() == "drop" && dev.Str() == vm.HostTap
	}))
}

// countSpans counts the spans in all that match.
func countSpans(all []ptrace.Traces, match func(ptrace.Span) bool) int {
	n := 0
	for _, td := range all {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					if match(sp) {
						n++
					}
				}
			}
		}
	}
	return n
}
