package kmetrics // import "github.com/vnetpath/vnetpath/internal/kmetrics"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vnetpath/vnetpath/internal/probes"
)

// Histograms are built here rather than by mdatagen, whose v0.161.0
// metrics builder cannot generate histograms; the receivers' READMEs
// document them.

// HistDesc describes one exported histogram metric.
type HistDesc struct {
	Name, Description string
}

// The kernel counts latencies in base-2 slots: slot s holds (2^(s-1), 2^s] ns.
// Exported bounds are 2^10 ns (about 1 us) to 2^33 ns (about 8.6 s); the
// first bucket also takes the faster slots, the +Inf bucket the slower ones.
const (
	firstBoundSlot = 10
	lastBoundSlot  = 33
)

// HistBounds are the explicit bucket bounds, in seconds.
var HistBounds = func() []float64 {
	b := make([]float64, 0, lastBoundSlot-firstBoundSlot+1)
	for s := firstBoundSlot; s <= lastBoundSlot; s++ {
		b = append(b, math.Ldexp(1, s)/1e9)
	}
	return b
}()

// HistValues flattens per-CPU kernel histograms into slots followed by the
// sum in ns, the layout the cumulative store keeps.
func HistValues(perCPU []probes.Hist) []uint64 {
	v := make([]uint64, probes.HistSlots+1)
	for _, h := range perCPU {
		for s, n := range h.Slots {
			v[s] += n
		}
		v[probes.HistSlots] += h.SumNs
	}
	return v
}

// Histograms accumulates the histogram metrics of one collection.
type Histograms struct {
	metrics map[string]pmetric.Metric
	sm      pmetric.ScopeMetrics
}

// NewHistograms starts an empty collection.
func NewHistograms() *Histograms {
	return &Histograms{metrics: map[string]pmetric.Metric{}, sm: pmetric.NewScopeMetrics()}
}

// EmitHistograms ends a collection of cum, whose series hold kernel slots
// + sum (see HistValues), and adds each series to h as a data point of d;
// attrs writes the series' attributes.
func EmitHistograms[S, A comparable](h *Histograms, d HistDesc, cum *Cumulative[S, A], now pcommon.Timestamp, attrs func(A, pcommon.Map)) {
	cum.Collect(now, func(a A, start pcommon.Timestamp, values []uint64) {
		attrs(a, h.Add(d, start, now, values))
	})
}

// Add appends one cumulative data point from kernel slots + sum and
// returns its attributes, for the caller to fill.
func (h *Histograms) Add(d HistDesc, start, now pcommon.Timestamp, values []uint64) pcommon.Map {
	m, ok := h.metrics[d.Name]
	if !ok {
		m = h.sm.Metrics().AppendEmpty()
		m.SetName(d.Name)
		m.SetDescription(d.Description)
		m.SetUnit("s")
		m.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		h.metrics[d.Name] = m
	}
	dp := m.Histogram().DataPoints().AppendEmpty()
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(now)
	dp.ExplicitBounds().FromRaw(HistBounds)
	counts := make([]uint64, len(HistBounds)+1)
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
	return dp.Attributes()
}

// MoveTo appends the histograms to the scope metrics of md, creating the
// resource and scope when the metrics builder emitted nothing.
func (h *Histograms) MoveTo(md pmetric.Metrics, scope string, version string) {
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
