package sliprocessor

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadatatest"
)

const tapDropRatio = `
indicators:
  - name: tap_drop_ratio
    ratio: {bad: vnet.packet.drops, total: [vnet.interface.packets, vnet.packet.drops]}
    where: {network.io.direction: transmit}
    group_by: [vm.name, network.interface.name]
    windows: [1s, 3s]
`

func tapAttrs(vm, iface string, extra ...any) map[string]any {
	m := map[string]any{"vm.name": vm, "network.interface.name": iface}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func sliAt(t *testing.T, md pmetric.Metrics, window string, attrs map[string]any) float64 {
	t.Helper()
	want := map[string]any{"vnet.sli.window": window}
	for k, v := range attrs {
		want[k] = v
	}
	return gaugeValue(t, md, "vnet.sli.value", want).DoubleValue()
}

func dataPoints(indicator string, counts map[string]int64) []metricdata.DataPoint[int64] {
	var out []metricdata.DataPoint[int64]
	for outcome, c := range counts {
		out = append(out, metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(attribute.String("indicator", indicator), attribute.String("outcome", outcome)),
			Value:      c,
		})
	}
	return out
}

// TestTapDropRatio checks the ratio an SRE expects: drops / (transmitted +
// drops) per VM and tap, where `where` keeps drops that carry no direction
// and refuses the receive direction of both metrics.
func TestTapDropRatio(t *testing.T) {
	h := newHarness(t, tapDropRatio)
	web, db := tapAttrs("web-1", "vnet0"), tapAttrs("db-1", "vnet1")
	feed := func(webTx, webRx, webFull, webRxDrop, dbTx, dbFull float64) {
		ts := h.now()
		h.consume(merge(
			sums("vnet.interface.packets",
				point{tapAttrs("web-1", "vnet0", "network.io.direction", "transmit"), boot, ts, webTx},
				point{tapAttrs("web-1", "vnet0", "network.io.direction", "receive"), boot, ts, webRx},
				point{tapAttrs("db-1", "vnet1", "network.io.direction", "transmit"), boot, ts, dbTx},
			),
			sums("vnet.packet.drops",
				point{tapAttrs("web-1", "vnet0", "vnet.drop.reason", "FULL_RING"), boot, ts, webFull},
				point{tapAttrs("web-1", "vnet0", "vnet.drop.reason", "NO_SOCKET", "network.io.direction", "receive"), boot, ts, webRxDrop},
				point{tapAttrs("db-1", "vnet1", "vnet.drop.reason", "FULL_RING"), boot, ts, dbFull},
				// Drops outside any VM have no vm.name: refused, counted.
				point{map[string]any{"network.interface.name": "eth0", "vnet.drop.reason": "NO_SOCKET"}, boot, ts, 7},
			),
		))
	}

	feed(1000, 5000, 10, 3, 500, 0) // baselines
	h.tick(1)
	assert.Equal(t, 0.0, sliAt(t, h.last(), "1s", web), "no events yet")

	// web: +990 transmitted, +10 FULL_RING; the +4000 received and +47
	// receive drops are not transmit. db: +1000, no drops.
	feed(1990, 9000, 20, 50, 1500, 0)
	h.tick(1)
	assert.Equal(t, 10.0/(990+10), sliAt(t, h.last(), "1s", web))
	assert.Equal(t, 0.0, sliAt(t, h.last(), "1s", db))

	// web: +1000, no drops. db: +1000, +5 drops.
	feed(2990, 9100, 20, 60, 2500, 5)
	h.tick(1)
	md := h.last()
	assert.Equal(t, 0.0, sliAt(t, md, "1s", web))
	assert.Equal(t, 10.0/2000, sliAt(t, md, "3s", web), "3s window: 10 drops in 1990+10 events")
	assert.Equal(t, 5.0/1005, sliAt(t, md, "1s", db))
	assert.Equal(t, 5.0/2005, sliAt(t, md, "3s", db))
	assert.Equal(t, 4, countPoints(md, "vnet.sli.value"), "2 groups x 2 windows")

	// 3 batches x (web tx, web FULL_RING, db tx, db FULL_RING) accepted;
	// 3 uplink drops without vm.name.
	metadatatest.AssertEqualProcessorSliDataPoints(t, h.tel,
		dataPoints("tap_drop_ratio", map[string]int64{"accepted": 12, "missing_attribute": 3}),
		metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorSliSeries(t, h.tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	// Streams: web tx, web rx, web FULL_RING, web rx drops, db tx, db
	// FULL_RING, the uplink drops (cached as missing an attribute).
	metadatatest.AssertEqualProcessorSliStreams(t, h.tel,
		[]metricdata.DataPoint[int64]{{Value: 7}}, metricdatatest.IgnoreTimestamp())
}

// A counter that restarts mid-window (new start time, or a lower value)
// contributes its new value, not a negative delta.
func TestCounterResetMidWindow(t *testing.T) {
	h := newHarness(t, `
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [3s]
`)
	vm := map[string]any{"vm.name": "web-1"}
	irq := func(start time.Time, v float64) {
		h.consume(sums("vnet.kvm.interrupts", point{vm, start, h.now(), v}))
		h.tick(1)
	}
	irq(boot, 100) // baseline
	irq(boot, 150) // +50
	restart := h.now().Add(-500 * time.Millisecond)
	irq(restart, 20) // the VMM restarted: +20
	// Intervals 0..2 hold 0 (the baseline), 50, 20; the group's data
	// starts after its baseline interval, so the rate is over 2s.
	assert.Equal(t, 70.0/2, sliAt(t, h.last(), "3s", vm))
	irq(restart, 30) // +10
	irq(restart, 4)  // the value fell without a new start time: +4
	// Intervals 2..4: 20, 10, 4.
	assert.Equal(t, 34.0/3, sliAt(t, h.last(), "3s", vm))

	metadatatest.AssertEqualProcessorSliCounterResets(t, h.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("indicator", "irq_rate")), Value: 2},
	}, metricdatatest.IgnoreTimestamp())
}

// Duplicates, out-of-order points, NaN, infinities and negative counters
// change nothing and are counted by outcome.
func TestBadPointsRefusedAndCounted(t *testing.T) {
	h := newHarness(t, `
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [1s]
`)
	vm := map[string]any{"vm.name": "web-1"}
	t1 := h.now()
	h.consume(sums("vnet.kvm.interrupts", point{vm, boot, t1, 100}))
	h.tick(1)
	t2 := h.now()
	h.consume(sums("vnet.kvm.interrupts",
		point{vm, boot, t2, 160},                       // +60
		point{vm, boot, t2, 999},                       // duplicate timestamp
		point{vm, boot, t1, 120},                       // older than the last point
		point{vm, boot, t2.Add(1), math.NaN()},         // invalid
		point{vm, boot, t2.Add(2), math.Inf(1)},        // invalid
		point{vm, boot, t2.Add(3), -5},                 // a counter is never negative
		point{vm, boot, t2.Add(time.Millisecond), 170}, // +10
	))
	h.tick(1)
	assert.Equal(t, 70.0, sliAt(t, h.last(), "1s", vm))
	metadatatest.AssertEqualProcessorSliDataPoints(t, h.tel,
		dataPoints("irq_rate", map[string]int64{"accepted": 3, "duplicate": 1, "out_of_order": 1, "invalid_value": 3}),
		metricdatatest.IgnoreTimestamp())
}

const ringOverflowTrigger = tapDropRatio + `
triggers:
  - name: ring-overflow
    indicator: tap_drop_ratio
    window: 1s
    above: 0.001
    for: 3
    recover_below: 0.0006
    recover_for: 1s
    cooldown: 30s
    actions: [log]
`

// feedTap sends one second of web-1/vnet0 traffic: the cumulative
// transmitted packets and FULL_RING drops.
func feedTap(h *harness, tx, drops float64) {
	ts := h.now()
	h.consume(merge(
		sums("vnet.interface.packets", point{tapAttrs("web-1", "vnet0", "network.io.direction", "transmit"), boot, ts, tx}),
		sums("vnet.packet.drops", point{tapAttrs("web-1", "vnet0", "vnet.drop.reason", "FULL_RING"), boot, ts, drops}),
	))
}

func triggerState(t *testing.T, md pmetric.Metrics) int64 {
	t.Helper()
	return gaugeValue(t, md, "vnet.trigger.state", map[string]any{"vnet.trigger.name": "ring-overflow", "vm.name": "web-1"}).IntValue()
}

func TestTriggerFiresLogActionOnceAndResolves(t *testing.T) {
	h := newHarness(t, ringOverflowTrigger)
	tx, drops := 0.0, 0.0
	second := func(sent, dropped float64) int64 {
		tx, drops = tx+sent, drops+dropped
		feedTap(h, tx, drops)
		h.tick(1)
		return triggerState(t, h.last())
	}
	var states []int64
	states = append(states, second(0, 0)) // baseline: ok
	for range 5 {
		// 2 drops in 1000 events: 0.002 > 0.001.
		states = append(states, second(998, 2))
	}
	states = append(states, second(1000, 0), second(1000, 0), second(1000, 0))
	// ok, pending, pending, firing, firing, firing, recovering, ok, ok
	assert.Equal(t, []int64{0, 1, 1, 2, 2, 2, 3, 0, 0}, states)
	h.stop() // the action workers have run

	fired := h.logs.FilterMessage("sli trigger firing").All()
	require.Len(t, fired, 1, "flapping or not, one firing per episode")
	f := fired[0].ContextMap()
	assert.Equal(t, "log", f["action"])
	assert.Equal(t, "ring-overflow", f["trigger"])
	assert.Equal(t, 0.002, f["value"])
	assert.Equal(t, 0.001, f["threshold"])
	assert.Equal(t, map[string]any{"vm.name": "web-1", "network.interface.name": "vnet0"}, f["group"])
	resolved := h.logs.FilterMessage("sli trigger resolved").All()
	require.Len(t, resolved, 1)
	assert.Equal(t, 0.0006, resolved[0].ContextMap()["threshold"])

	var transitions [][2]string
	for _, e := range h.logs.FilterMessage("sli trigger transition").All() {
		c := e.ContextMap()
		assert.Equal(t, "ring-overflow", c["trigger"])
		assert.Equal(t, "tap_drop_ratio", c["indicator"])
		assert.Equal(t, "1s", c["window"])
		assert.Equal(t, map[string]any{"vm.name": "web-1", "network.interface.name": "vnet0"}, c["group"])
		transitions = append(transitions, [2]string{c["from"].(string), c["to"].(string)})
	}
	assert.Equal(t, [][2]string{{"ok", "pending"}, {"pending", "firing"}, {"firing", "recovering"}, {"recovering", "ok"}}, transitions)

	tr := func(from, to string) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: 1, Attributes: attribute.NewSet(
			attribute.String("trigger", "ring-overflow"), attribute.String("from", from), attribute.String("to", to))}
	}
	metadatatest.AssertEqualProcessorSliTriggerTransitions(t, h.tel, []metricdata.DataPoint[int64]{
		tr("ok", "pending"), tr("pending", "firing"), tr("firing", "recovering"), tr("recovering", "ok"),
	}, metricdatatest.IgnoreTimestamp())
	act := func(state string) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: 1, Attributes: attribute.NewSet(
			attribute.String("action", "log"), attribute.String("type", "log"), attribute.String("state", state), attribute.String("outcome", "ok"))}
	}
	metadatatest.AssertEqualProcessorSliActions(t, h.tel, []metricdata.DataPoint[int64]{act("firing"), act("resolved")},
		metricdatatest.IgnoreTimestamp())
}

// When input stops, the processor keeps evaluating: the trigger holds its
// state through silent windows, goes to no_data after 3 windows and fires
// nothing.
func TestNoInputGoesNoData(t *testing.T) {
	h := newHarness(t, ringOverflowTrigger)
	tx, drops := 0.0, 0.0
	for range 5 {
		feedTap(h, tx, drops)
		tx, drops = tx+998, drops+2
		h.tick(1)
	}
	require.Equal(t, int64(2), triggerState(t, h.last()), "firing")
	var states []int64
	for range 4 { // no input at all
		h.tick(1)
		states = append(states, triggerState(t, h.last()))
	}
	// Two silent windows hold firing; the third makes no_data (4).
	assert.Equal(t, []int64{2, 2, 4, 4}, states)
	assert.Zero(t, countPoints(h.last(), "vnet.sli.value"), "no value without data")
	h.stop()
	assert.Len(t, h.logs.FilterMessage("sli trigger firing").All(), 1)
	assert.Empty(t, h.logs.FilterMessage("sli trigger resolved").All(), "no_data fires nothing")
}

func TestDryRunRunsNothing(t *testing.T) {
	h := newHarness(t, ringOverflowTrigger+"dry_run: true\n")
	tx, drops := 0.0, 0.0
	for range 5 {
		feedTap(h, tx, drops)
		tx, drops = tx+998, drops+2
		h.tick(1)
	}
	require.Equal(t, int64(2), triggerState(t, h.last()))
	h.stop()
	assert.Empty(t, h.logs.FilterMessage("sli trigger firing").All())
	assert.Len(t, h.logs.FilterMessage("sli dry run: action not run").All(), 1)
	metadatatest.AssertEqualProcessorSliActions(t, h.tel, []metricdata.DataPoint[int64]{{Value: 1, Attributes: attribute.NewSet(
		attribute.String("action", "log"), attribute.String("type", "log"), attribute.String("state", "firing"), attribute.String("outcome", "dry_run"))}},
		metricdatatest.IgnoreTimestamp())
}

// 100 000 groups in one batch against max_series 1000: exactly 1000 are
// kept and the other 99 000 points are counted as overflow, batch after
// batch; memory stays at 1000 groups.
func TestMaxSeriesBounds100000Groups(t *testing.T) {
	h := newManualHarness(t, `
max_series: 1000
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [1s]
`)
	batch := func(v float64) pmetric.Metrics {
		md := sums("vnet.kvm.interrupts")
		dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
		dps.EnsureCapacity(100000)
		for i := range 100000 {
			dp := dps.AppendEmpty()
			dp.Attributes().PutStr("vm.name", fmt.Sprintf("vm-%06d", i))
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(boot))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(h.now()))
			dp.SetDoubleValue(v)
		}
		return md
	}
	h.consume(batch(10))
	h.tick(1)
	h.consume(batch(20))
	h.tick(1)
	ind := h.p.indicators[0]
	assert.Len(t, ind.groups, 1000)
	assert.Len(t, ind.groupSlab, 1000)
	assert.Len(t, ind.streamSlab, 1000)
	assert.Equal(t, 1000, countPoints(h.last(), "vnet.sli.value"))
	assert.Equal(t, 10.0, sliAt(t, h.last(), "1s", map[string]any{"vm.name": "vm-000999"}))
	_, kept := findPoint(h.last(), "vnet.sli.value", map[string]any{"vm.name": "vm-001000"})
	assert.False(t, kept)
	metadatatest.AssertEqualProcessorSliSeriesOverflow(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 2 * 99000, Attributes: attribute.NewSet(attribute.String("limit", "max_series"))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorSliSeries(t, h.tel, []metricdata.DataPoint[int64]{{Value: 1000}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorSliDataPoints(t, h.tel,
		dataPoints("irq_rate", map[string]int64{"accepted": 2000}), metricdatatest.IgnoreTimestamp())
}

func TestMaxStreamsBound(t *testing.T) {
	h := newManualHarness(t, `
max_series: 10
max_streams: 4
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [1s]
`)
	var pts []point
	for cpu := range 10 {
		pts = append(pts, point{map[string]any{"vm.name": "web-1", "cpu": int64(cpu)}, boot, h.now(), 1})
	}
	h.consume(sums("vnet.kvm.interrupts", pts...))
	h.tick(1)
	assert.Len(t, h.p.indicators[0].streams, 4)
	metadatatest.AssertEqualProcessorSliSeriesOverflow(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 6, Attributes: attribute.NewSet(attribute.String("limit", "max_streams"))},
	}, metricdatatest.IgnoreTimestamp())
}

// Groups and streams without data for idle_timeout are dropped; data that
// returns starts them afresh.
func TestIdleSeriesExpire(t *testing.T) {
	h := newManualHarness(t, `
idle_timeout: 10s
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [1s]
`)
	vm := map[string]any{"vm.name": "web-1"}
	h.consume(sums("vnet.kvm.interrupts", point{vm, boot, h.now(), 1}))
	h.tick(10) // seen in interval 0; evaluations close intervals 0..9
	assert.Len(t, h.p.indicators[0].groups, 1, "idle for 9 intervals")
	h.tick(1) // interval 10: idle for 10
	assert.Empty(t, h.p.indicators[0].groups)
	assert.Empty(t, h.p.indicators[0].streams)
	metadatatest.AssertEqualProcessorSliSeriesExpired(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("kind", "series"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("kind", "stream"))},
	}, metricdatatest.IgnoreTimestamp())
	h.consume(sums("vnet.kvm.interrupts", point{vm, boot, h.now(), 2}))
	h.tick(1)
	assert.Len(t, h.p.indicators[0].groups, 1)
	metadatatest.AssertEqualProcessorSliSeries(t, h.tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}

// A late evaluation (the process paused for 3 intervals) closes the missed
// intervals empty so windows stay aligned with the clock.
func TestLateEvaluationClosesMissedIntervals(t *testing.T) {
	h := newManualHarness(t, `
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [2s, 5s]
`)
	vm := map[string]any{"vm.name": "web-1"}
	h.consume(sums("vnet.kvm.interrupts", point{vm, boot, h.now(), 0}))
	h.tick(1)
	h.consume(sums("vnet.kvm.interrupts", point{vm, boot, h.now(), 100}))
	h.clk.Advance(4 * time.Second) // intervals 1..4 end at once
	h.p.evaluate(t.Context())
	assert.Equal(t, int64(4), h.p.closed)
	// The 100 arrived in interval 1 and stay there; the 5s window covers
	// intervals 1..4 (the group's data starts after interval 0): 100/4.
	assert.Equal(t, 25.0, sliAt(t, h.last(), "5s", vm))
	_, found := findPoint(h.last(), "vnet.sli.value", map[string]any{"vnet.sli.window": "2s"})
	assert.False(t, found, "intervals 3 and 4 saw no data")
}

// After a gap longer than a window, no slot keeps data from before it,
// even for windows whose slots hold several intervals.
func TestLongGapClearsEveryWindow(t *testing.T) {
	h := newManualHarness(t, `
idle_timeout: 1h
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [5m]
`)
	vm := map[string]any{"vm.name": "web-1"}
	h.consume(sums("vnet.kvm.interrupts", point{vm, boot, h.now(), 0}))
	h.tick(1)
	for i := 1; i <= 3; i++ { // 3 intervals of 1000, inside 5s slots
		h.consume(sums("vnet.kvm.interrupts", point{vm, boot, h.now(), float64(1000 * i)}))
		h.tick(1)
	}
	h.clk.Advance(1000*time.Second + 300*time.Millisecond)
	h.p.evaluate(t.Context()) // closes 4..1003 at once
	h.consume(sums("vnet.kvm.interrupts", point{vm, boot, h.now(), 3600}))
	h.tick(1) // interval 1004: +600
	// Only the 600 remain, over a full window of 300 intervals.
	assert.Equal(t, 2.0, sliAt(t, h.last(), "5m", vm))
}

// A stream whose only points were refused keeps no expired group alive
// and never points at a group slot reused by another.
func TestStreamOfExpiredGroupExpiresWithIt(t *testing.T) {
	h := newManualHarness(t, `
idle_timeout: 10s
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [1s]
`)
	cpu := func(vm string, c int64) map[string]any { return map[string]any{"vm.name": vm, "cpu": c} }
	h.consume(sums("vnet.kvm.interrupts", point{cpu("web-1", 0), boot, h.now(), 1}))
	h.tick(5)
	// A second stream of web-1 whose first point is refused: it exists,
	// but the group saw no data since interval 0.
	h.consume(sums("vnet.kvm.interrupts", point{cpu("web-1", 1), boot, h.now(), math.NaN()}))
	h.tick(6) // interval 10 closed: web-1 idle for 10 intervals, expired
	require.Empty(t, h.p.indicators[0].groups)
	assert.Empty(t, h.p.indicators[0].streams, "the refused stream went with its group")
	// db-1 takes the freed slot; web-1's cpu 1 comes back with data.
	h.consume(sums("vnet.kvm.interrupts",
		point{cpu("db-1", 0), boot, h.now(), 1},
		point{cpu("web-1", 1), boot, h.now(), 5}))
	h.tick(1)
	h.consume(sums("vnet.kvm.interrupts",
		point{cpu("db-1", 0), boot, h.now(), 2},
		point{cpu("web-1", 1), boot, h.now(), 25}))
	h.tick(1)
	assert.Equal(t, 1.0, sliAt(t, h.last(), "1s", map[string]any{"vm.name": "db-1"}))
	assert.Equal(t, 20.0, sliAt(t, h.last(), "1s", map[string]any{"vm.name": "web-1"}))
}

// recover_for is counted in evaluation intervals: a healthy evaluation
// that ran 20 ms late does not push the resolution one interval further.
func TestRecoverForCountsIntervals(t *testing.T) {
	h := newManualHarness(t, ringOverflowTrigger)
	tx, drops := 0.0, 0.0
	at := func(offset time.Duration, sent, dropped float64) int64 {
		tx, drops = tx+sent, drops+dropped
		feedTap(h, tx, drops)
		h.clk.Advance(time.Second + offset)
		h.p.evaluate(t.Context())
		h.clk.Advance(-offset)
		return triggerState(t, h.last())
	}
	var states []int64
	states = append(states, at(0, 0, 0))
	for range 3 {
		states = append(states, at(0, 998, 2)) // pending, pending, firing
	}
	states = append(states, at(20*time.Millisecond, 1000, 0)) // healthy, late: recovering
	states = append(states, at(0, 1000, 0))                   // recover_for 1s on the grid: ok
	assert.Equal(t, []int64{0, 1, 1, 2, 3, 0}, states)
}
