package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vnetpath/vnetpath/internal/probes"
)

// Histograms are built here rather than by mdatagen, whose v0.161.0
// metrics builder cannot generate histograms; README.md documents them.

// histDesc describes one exported histogram metric.
type histDesc struct {
	name, description string
}

var (
	histSoftirqLatency = histDesc{"vnet.softirq.latency",
		"Delay from raising a softirq to its handler starting (irq:softirq_raise -> softirq_entry), per CPU and vector."}
	histSoftirqDuration = histDesc{"vnet.softirq.duration",
		"Run time of a softirq handler (irq:softirq_entry -> softirq_exit), per CPU and vector."}
	histRingResidence = histDesc{"vnet.tap.ring.residence",
		"Time a packet waits in a tap's ring: from the device's xmit until the VM's worker thread dequeues it."}
	histWorkerWait = histDesc{"vnet.worker.wait",
		"Run-queue wait of a VM worker thread: from wakeup (or preemption) until it runs."}
	histWorkerRuntime = histDesc{"vnet.worker.runtime",
		"On-CPU time of a VM worker thread per scheduling slice."}
)

// The kernel counts latencies in base-2 slots: slot s holds (2^(s-1), 2^s] ns.
// Exported bounds are 2^10 ns (about 1 us) to 2^33 ns (about 8.6 s); the
// first bucket also takes the faster slots, the +Inf bucket the slower ones.
const (
	firstBoundSlot = 10
	lastBoundSlot  = 33
)

// histBounds are the explicit bucket bounds, in seconds.
var histBounds = func() []float64 {
	b := make([]float64, 0, lastBoundSlot-firstBoundSlot+1)
	for s := firstBoundSlot; s <= lastBoundSlot; s++ {
		b = append(b, math.Ldexp(1, s)/1e9)
	}
	return b
}()

// histValues flattens per-CPU kernel histograms into slots followed by the
// sum in ns, the layout the cumulative store keeps.
func histValues(perCPU []probes.Hist) []uint64 {
	v := make([]uint64, probes.HistSlots+1)
	for _, h := range perCPU {
		for s, n := range h.Slots {
			v[s] += n
		}
		v[probes.HistSlots] += h.SumNs
	}
	return v
}

// histograms accumulates the histogram metrics of one collection.
type histograms struct {
	metrics map[string]pmetric.Metric
	sm      pmetric.ScopeMetrics
}

func newHistograms() *histograms {
	return &histograms{metrics: map[string]pmetric.Metric{}, sm: pmetric.NewScopeMetrics()}
}

// add appends one cumulative data point from kernel slots + sum.
func (h *histograms) add(d histDesc, start, now pcommon.Timestamp, values []uint64, attrs func(pcommon.Map)) {
	m, ok := h.metrics[d.name]
	if !ok {
		m = h.sm.Metrics().AppendEmpty()
		m.SetName(d.name)
		m.SetDescription(d.description)
		m.SetUnit("s")
		m.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		h.metrics[d.name] = m
	}
	dp := m.Histogram().DataPoints().AppendEmpty()
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(now)
	dp.ExplicitBounds().FromRaw(histBounds)
	counts := make([]uint64, len(histBounds)+1)
	var total uint64
	for s := 0; s < probes.HistSlots; s++ {
		n := values[s]
		total += n
		switch {
		case s <= firstBoundSlot:
			counts[0] += n
		case s <= lastBoundSlot:
			counts[s-firstBoundSlot] += n
		default:
			counts[len(counts)-1] += n
		}
	}
	dp.BucketCounts().FromRaw(counts)
	dp.SetCount(total)
	dp.SetSum(float64(values[probes.HistSlots]) / 1e9)
	attrs(dp.Attributes())
}

// moveTo appends the histograms to the scope metrics of md, creating the
// resource and scope when the metrics builder emitted nothing.
func (h *histograms) moveTo(md pmetric.Metrics, scope string, version string) {
	if h.sm.Metrics().Len() == 0 {
		return
	}
	var sm pmetric.ScopeMetrics
	if md.ResourceMetrics().Len() > 0 && md.ResourceMetrics().At(0).ScopeMetrics().Len() > 0 {
		sm = md.ResourceMetrics().At(0).ScopeMetrics().At(0)
	} else {
		sm = md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(scope)
		sm.Scope().SetVersion(version)
	}
	h.sm.Metrics().MoveAndAppendTo(sm.Metrics())
}
