package kmetrics

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vnetpath/vnetpath/internal/probes"
)

func TestHistBounds(t *testing.T) {
	require.Len(t, HistBounds, 24)
	assert.Equal(t, 1024e-9, HistBounds[0])
	assert.Equal(t, math.Ldexp(1, 33)/1e9, HistBounds[23])
}

// TestEmitHistograms: slots at or below 2^10 ns go to the first bucket,
// slot s up to 33 to bucket s-10, slower slots to +Inf; the sum is in
// seconds; series keep their start times and attributes.
func TestEmitHistograms(t *testing.T) {
	perCPU := make([]probes.Hist, 2)
	perCPU[0].Slots[0], perCPU[0].Slots[10], perCPU[0].Slots[11] = 1, 2, 3
	perCPU[1].Slots[33], perCPU[1].Slots[34], perCPU[1].Slots[probes.HistSlots-1] = 4, 5, 6
	perCPU[0].SumNs, perCPU[1].SumNs = 1_500_000_000, 500_000_000
	cum := NewCumulative[int, string](100)
	cum.Add(1, "tap0", HistValues(perCPU)...)

	h := NewHistograms()
	EmitHistograms(h, HistDesc{Name: "vnet.test", Description: "d"}, cum, 200, func(name string, m pcommon.Map) {
		m.PutStr("network.interface.name", name)
	})
	md := pmetric.NewMetrics()
	h.MoveTo(md, "scope", "v1")

	sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
	assert.Equal(t, "scope", sm.Scope().Name())
	assert.Equal(t, "v1", sm.Scope().Version())
	m := sm.Metrics().At(0)
	assert.Equal(t, "vnet.test", m.Name())
	assert.Equal(t, "s", m.Unit())
	assert.Equal(t, pmetric.AggregationTemporalityCumulative, m.Histogram().AggregationTemporality())
	dp := m.Histogram().DataPoints().At(0)
	want := make([]uint64, len(HistBounds)+1)
	want[0], want[1], want[23], want[24] = 1+2, 3, 4, 5+6
	assert.Equal(t, want, dp.BucketCounts().AsRaw())
	assert.Equal(t, HistBounds, dp.ExplicitBounds().AsRaw())
	assert.Equal(t, uint64(21), dp.Count())
	assert.Equal(t, 2.0, dp.Sum())
	assert.Equal(t, pcommon.Timestamp(100), dp.StartTimestamp())
	assert.Equal(t, pcommon.Timestamp(200), dp.Timestamp())
	assert.Equal(t, map[string]any{"network.interface.name": "tap0"}, dp.Attributes().AsRaw())
}

// TestMoveToJoinsTheBuildersScope: histograms join the scope the metrics
// builder emitted, and an empty collection adds nothing.
func TestMoveToJoinsTheBuildersScope(t *testing.T) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Metrics().AppendEmpty().SetName("vnet.packet.drops")
	NewHistograms().MoveTo(md, "scope", "v1")
	require.Equal(t, 1, sm.Metrics().Len())

	h := NewHistograms()
	h.Add(HistDesc{Name: "vnet.a"}, 0, 1, make([]uint64, probes.HistSlots+1))
	h.Add(HistDesc{Name: "vnet.a"}, 0, 1, make([]uint64, probes.HistSlots+1))
	h.MoveTo(md, "scope", "v1")
	require.Equal(t, 1, md.ResourceMetrics().At(0).ScopeMetrics().Len())
	require.Equal(t, 2, sm.Metrics().Len())
	assert.Equal(t, 2, sm.Metrics().At(1).Histogram().DataPoints().Len(), "one metric, two points")
}
