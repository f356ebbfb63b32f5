package sliprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadatatest"
)

// Two streams of one group at different exponential scales: the group
// takes the coarser scale and merges the finer stream's buckets into it.
func TestExpoGroupCoarsensToTheCoarserStream(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: p50
    quantile: {histogram: lat, q: 0.5}
    group_by: [vm.name]
    windows: [2s]
`)
	a := map[string]any{"vm.name": "web-1", "cpu": int64(0)}
	b := map[string]any{"vm.name": "web-1", "cpu": int64(1)}
	h.consume(expoHistograms("lat", expoPoint{a, boot, h.now(), 1, 0, 2, []uint64{0}}, expoPoint{b, boot, h.now(), 0, 0, 1, []uint64{0}}))
	h.tick(1)
	// a, scale 1: +4 at index 2, (2, 2.83]; b, scale 0: +4 at index 2, (4, 8].
	h.consume(expoHistograms("lat", expoPoint{a, boot, h.now(), 1, 0, 2, []uint64{4}}, expoPoint{b, boot, h.now(), 0, 0, 1, []uint64{0, 4}}))
	h.tick(1)
	g := h.p.indicators[0].groupSlab[0]
	assert.Equal(t, int32(0), g.hist.scale)
	// At scale 0, a's index 2 is index 1, (2, 4]: 4 there and 4 in (4, 8].
	// p50: rank 4 -> the top of (2, 4] = 4.
	assert.Equal(t, 4.0, sliAt(t, h.last(), "2s", map[string]any{"vm.name": "web-1"}))
}

// A group wider than maxExpoBuckets downscales until it fits.
func TestExpoGroupDownscalesToFit(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: p50
    quantile: {histogram: lat, q: 0.5}
    group_by: [vm.name]
    windows: [1s]
`)
	vm := map[string]any{"vm.name": "web-1"}
	counts := func(n uint64) []uint64 {
		c := make([]uint64, 200) // indexes 0..199 at scale 3
		c[0], c[199] = n, n
		return c
	}
	h.consume(expoHistograms("lat", expoPoint{vm, boot, h.now(), 3, 0, 0, counts(0)}))
	h.tick(1)
	h.consume(expoHistograms("lat", expoPoint{vm, boot, h.now(), 3, 0, 0, counts(5)}))
	h.tick(1)
	g := h.p.indicators[0].groupSlab[0]
	// 200 indexes need scale 1 to fit in 64: 0..49.
	assert.Equal(t, int32(1), g.hist.scale)
	assert.Equal(t, 1+50, len(g.pending))
	// p50 of 5 at index 0 and 5 at 199 (scale 3) -> rank 5 is the top of
	// scale-1 bucket 0: 2^(1/2).
	assert.InDelta(t, 1.4142135623730951, sliAt(t, h.last(), "1s", vm), 1e-15)
}

func TestHistogramLayoutMismatchCounted(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: p99
    quantile: {histogram: lat, q: 0.99}
    group_by: [vm.name]
    windows: [1s]
`)
	a := map[string]any{"vm.name": "web-1", "q": "0"}
	b := map[string]any{"vm.name": "web-1", "q": "1"}
	h.consume(merge(
		histograms("lat", []float64{1, 2}, histPoint{a, boot, h.now(), []uint64{1, 1, 1}}),
		histograms("lat", []float64{1, 4}, histPoint{b, boot, h.now(), []uint64{1, 1, 1}}),
		expoHistograms("lat", expoPoint{b, boot, h.now(), 0, 0, 0, []uint64{1}}),
		// Bucket counts that do not match the bounds.
		histograms("lat", []float64{1, 2}, histPoint{map[string]any{"vm.name": "web-1", "q": "2"}, boot, h.now(), []uint64{1}}),
		// Bounds that do not increase, for a new group.
		histograms("lat", []float64{2, 1}, histPoint{map[string]any{"vm.name": "db-1"}, boot, h.now(), []uint64{1, 1, 1}}),
	))
	h.tick(1)
	metadatatest.AssertEqualProcessorSliDataPoints(t, h.tel,
		dataPoints("p99", map[string]int64{"accepted": 1, "layout_mismatch": 2, "unsupported": 1, "invalid_value": 1}),
		metricdatatest.IgnoreTimestamp())
}

// A window with data points but no new observation has no quantile: the
// value is not emitted and a trigger reads it as healthy, so a firing
// trigger resolves instead of holding its state as for a silent window.
func TestEmptyHistogramWindow(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: p99
    quantile: {histogram: lat, q: 0.99}
    group_by: [vm.name]
    windows: [1s]
triggers:
  - {name: slow, indicator: p99, above: 1}
`)
	vm := map[string]any{"vm.name": "web-1"}
	state := func() int64 { return gaugeValue(t, h.last(), "vnet.trigger.state", nil).IntValue() }
	h.consume(histograms("lat", []float64{1, 2}, histPoint{vm, boot, h.now(), []uint64{1, 1, 1}}))
	h.tick(1)
	require.Zero(t, countPoints(h.last(), "vnet.sli.value"), "baseline")
	// +10 above 2: p99 is the highest bound, 2 > 1: firing.
	h.consume(histograms("lat", []float64{1, 2}, histPoint{vm, boot, h.now(), []uint64{1, 1, 11}}))
	h.tick(1)
	require.Equal(t, 2.0, sliAt(t, h.last(), "1s", vm))
	require.Equal(t, int64(2), state(), "firing")
	for i := range 3 {
		h.consume(histograms("lat", []float64{1, 2}, histPoint{vm, boot, h.now(), []uint64{1, 1, 11}}))
		h.tick(1)
		require.Zero(t, countPoints(h.last(), "vnet.sli.value"), "evaluation %d", i)
		assert.Equal(t, int64(0), state(), "evaluation %d: resolved, not held", i)
	}
	assert.Equal(t, int64(0), state())
}

func TestGaugeMin(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: free_slots
    gauge: {metric: vnet.tap.ring.free, aggregation: min}
    group_by: [vm.name]
    windows: [2s]
triggers:
  - {name: ring-low, indicator: free_slots, window: 2s, below: 10, recover_above: 50}
`)
	vm := map[string]any{"vm.name": "web-1"}
	var states []int64
	for _, v := range []float64{100, 5, 80, 80, 60} {
		h.consume(gauges("vnet.tap.ring.free", point{vm, boot, h.now(), v}))
		h.tick(1)
		states = append(states, gaugeValue(t, h.last(), "vnet.trigger.state", nil).IntValue())
	}
	// min over 2s: 100, 5, 5, 80, 60 -> ok, firing, firing, ok, ok.
	assert.Equal(t, []int64{0, 2, 2, 0, 0}, states)
	assert.Equal(t, 60.0, sliAt(t, h.last(), "2s", vm))
}

// Group attributes may come from the resource, and where applies to
// resource attributes too.
func TestResourceAttributes(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    where: {host.name: kvm-1}
    group_by: [host.name, vm.name]
    windows: [1s]
`)
	batch := func(host string, v float64) pmetric.Metrics {
		md := sums("vnet.kvm.interrupts", point{map[string]any{"vm.name": "web-1"}, boot, h.now(), v})
		md.ResourceMetrics().At(0).Resource().Attributes().PutStr("host.name", host)
		return md
	}
	h.consume(merge(batch("kvm-1", 10), batch("kvm-2", 10)))
	h.tick(1)
	h.consume(merge(batch("kvm-1", 25), batch("kvm-2", 90)))
	h.tick(1)
	assert.Equal(t, 15.0, sliAt(t, h.last(), "1s", map[string]any{"host.name": "kvm-1", "vm.name": "web-1"}))
	assert.Equal(t, 1, countPoints(h.last(), "vnet.sli.value"))
}

// Metrics of the wrong type for an indicator are refused and counted.
func TestUnsupportedInputs(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
`)
	vm := map[string]any{"vm.name": "web-1"}
	nonMonotonic := sums("vnet.kvm.interrupts", point{vm, boot, h.now(), 1})
	nonMonotonic.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().SetIsMonotonic(false)
	h.consume(merge(nonMonotonic, gauges("vnet.kvm.interrupts", point{vm, boot, h.now(), 1})))
	h.tick(1)
	metadatatest.AssertEqualProcessorSliDataPoints(t, h.tel,
		dataPoints("irq_rate", map[string]int64{"unsupported": 2}), metricdatatest.IgnoreTimestamp())
}

// A gauge indicator takes gauges and cumulative up-down counters (levels),
// not delta up-down counters (changes).
func TestGaugeInputs(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: queue
    gauge: {metric: q}
    group_by: [vm.name]
`)
	vm := map[string]any{"vm.name": "web-1"}
	level := func(temporality pmetric.AggregationTemporality) pmetric.Metrics {
		md := sums("q", point{vm, boot, h.now(), 1})
		s := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum()
		s.SetIsMonotonic(false)
		s.SetAggregationTemporality(temporality)
		return md
	}
	h.consume(merge(level(pmetric.AggregationTemporalityCumulative), level(pmetric.AggregationTemporalityDelta)))
	h.tick(1)
	metadatatest.AssertEqualProcessorSliDataPoints(t, h.tel,
		dataPoints("queue", map[string]int64{"accepted": 1, "unsupported": 1}), metricdatatest.IgnoreTimestamp())
}

// emit_interval sends derived metrics every few evaluations; evaluation
// itself (triggers, windows) still runs every interval.
func TestEmitInterval(t *testing.T) {
	h := newManualHarness(t, `
emit_interval: 3s
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [1s]
`)
	for i := range 7 {
		h.consume(sums("vnet.kvm.interrupts", point{map[string]any{"vm.name": "web-1"}, boot, h.now(), float64(i)}))
		h.tick(1)
	}
	// Evaluations 1..7 emit on the 3rd and the 6th.
	batches := h.out.all()
	assert.Len(t, batches, 2)
	for i, md := range batches {
		at := gaugeValue(t, md, "vnet.sli.value", nil).Timestamp().AsTime()
		assert.Equal(t, t0.Add(time.Duration(3*(i+1))*time.Second), at, "batch %d", i)
	}
	metadatatest.AssertEqualProcessorSliEvaluations(t, h.tel, []metricdata.DataPoint[int64]{{Value: 7}}, metricdatatest.IgnoreTimestamp())
}

// An action whose queue is full drops the event and counts it.
func TestActionQueueFullDrops(t *testing.T) {
	h := newManualHarness(t, tapDropRatio+`
action_queue_size: 1
triggers:
  - {name: a, indicator: tap_drop_ratio, window: 1s, above: 0.001, actions: [log]}
  - {name: b, indicator: tap_drop_ratio, window: 1s, above: 0.001, actions: [log]}
  - {name: c, indicator: tap_drop_ratio, window: 1s, above: 0.001, actions: [log]}
`)
	// Not started: the log action's worker does not run, so its queue of
	// one fills with the first of the three firing events.
	feedTap(h, 0, 0)
	h.tick(1)
	feedTap(h, 998, 2)
	h.tick(1)
	metadatatest.AssertEqualProcessorSliActions(t, h.tel, []metricdata.DataPoint[int64]{{Value: 2, Attributes: attribute.NewSet(
		attribute.String("action", "log"), attribute.String("type", "log"), attribute.String("state", "firing"), attribute.String("outcome", "dropped"))}},
		metricdatatest.IgnoreTimestamp())
}
