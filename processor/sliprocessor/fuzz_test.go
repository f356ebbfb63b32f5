package sliprocessor

import (
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/vnetpath/vnetpath/internal/sli/clock"
	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadata"
)

// FuzzExpoIngest feeds arbitrary exponential histograms (scales, offsets,
// counts, resets) from two streams of one group: nothing panics, the
// group's layout stays within maxExpoBuckets, and every quantile emitted
// is a finite, non-negative number.
func FuzzExpoIngest(f *testing.F) {
	f.Add([]byte{3, 0, 2, 1, 1, 2, 1, 5, 0, 3, 9, 200, 0, 1})
	f.Add([]byte{20, 128, 9, 255, 255, 255, 255, 255, 255, 255, 255, 246, 0, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := loadConfig(t, `
indicators:
  - name: p90
    quantile: {histogram: lat, q: 0.9}
    group_by: [vm.name]
    windows: [1s, 3s]
`)
		clk := clock.NewFake(t0)
		p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop(), clk)
		if err != nil {
			t.Fatal(err)
		}
		sink := &consumertest.MetricsSink{}
		p.next = sink
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		for step := 0; len(data) > 0 && step < 50; step++ {
			md := pmetric.NewMetrics()
			m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			m.SetName("lat")
			h := m.SetEmptyExponentialHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := h.DataPoints().AppendEmpty()
			dp.Attributes().PutStr("vm.name", "web-1")
			dp.Attributes().PutInt("cpu", int64(next()%2))
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(boot))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(clk.Now()))
			scale := int32(next()%31) - 10
			off := int32(int8(next()))
			n := int(next() % 80)
			dp.SetScale(scale)
			dp.SetZeroCount(uint64(next()))
			dp.Positive().SetOffset(off)
			var total uint64
			for j := 0; j < n; j++ {
				c := uint64(next())
				dp.Positive().BucketCounts().Append(c)
				total += c
			}
			dp.SetCount(total + dp.ZeroCount())
			if _, err := p.processMetrics(t.Context(), md); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
			p.evaluate(t.Context())
			for _, g := range p.indicators[0].groupSlab {
				if g != nil && len(g.pending) > 1+maxExpoBuckets {
					t.Fatalf("group holds %d buckets", len(g.pending)-1)
				}
			}
		}
		for _, md := range sink.AllMetrics() {
			for _, dp := range gaugePoints(md, "vnet.sli.value") {
				if v := dp.DoubleValue(); math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("quantile %v", v)
				}
			}
		}
	})
}
