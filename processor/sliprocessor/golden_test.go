package sliprocessor

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// -update rewrites the golden inputs from the builders below and the
// expected outputs from what the processor makes of them. Review the diff.
var update = flag.Bool("update", false, "rewrite testdata/golden")

// goldenCase feeds input_<i>.yaml before evaluation i+1 and compares the
// last evaluation's derived metrics with expected.yaml. check asserts the
// hand-computed figures the expected file must hold.
type goldenCase struct {
	name   string
	config string
	inputs func(ts func(step int) time.Time) []pmetric.Metrics
	check  func(t *testing.T, md pmetric.Metrics)
}

// ns2s converts power-of-two nanosecond bounds to seconds, as the vnet
// receivers export vnet.tap.ring.residence.
func ns2s(exps ...int) []float64 {
	out := make([]float64, len(exps))
	for i, e := range exps {
		out[i] = math.Ldexp(1, e) / 1e9
	}
	return out
}

var residenceBounds = ns2s(10, 11, 12, 13, 14, 15, 16) // 1.024µs .. 65.536µs

var goldenCases = []goldenCase{
	{
		name: "ratio",
		config: `
indicators:
  - name: tap_drop_ratio
    ratio: {bad: vnet.packet.drops, total: [vnet.interface.packets, vnet.packet.drops]}
    where: {network.io.direction: transmit}
    group_by: [vm.name, network.interface.name]
    windows: [1s, 3s]
`,
		inputs: func(ts func(int) time.Time) []pmetric.Metrics {
			batch := func(step int, webTx, webRx, webFull, webRxDrop, dbTx, dbFull float64) pmetric.Metrics {
				at := ts(step)
				return merge(
					sums("vnet.interface.packets",
						point{tapAttrs("web-1", "vnet0", "network.io.direction", "transmit"), boot, at, webTx},
						point{tapAttrs("web-1", "vnet0", "network.io.direction", "receive"), boot, at, webRx},
						point{tapAttrs("db-1", "vnet1", "network.io.direction", "transmit"), boot, at, dbTx}),
					sums("vnet.packet.drops",
						point{tapAttrs("web-1", "vnet0", "vnet.drop.reason", "FULL_RING"), boot, at, webFull},
						point{tapAttrs("web-1", "vnet0", "vnet.drop.reason", "NO_SOCKET", "network.io.direction", "receive"), boot, at, webRxDrop},
						point{tapAttrs("db-1", "vnet1", "vnet.drop.reason", "FULL_RING"), boot, at, dbFull}),
				)
			}
			return []pmetric.Metrics{
				batch(0, 1000, 5000, 10, 3, 500, 0),
				batch(1, 1990, 9000, 20, 50, 1500, 0),
				batch(2, 2990, 9100, 20, 60, 2500, 5),
			}
		},
		check: func(t *testing.T, md pmetric.Metrics) {
			web, db := tapAttrs("web-1", "vnet0"), tapAttrs("db-1", "vnet1")
			assert.Equal(t, 0.0, sliAt(t, md, "1s", web))
			assert.Equal(t, 10.0/2000, sliAt(t, md, "3s", web))
			assert.Equal(t, 5.0/1005, sliAt(t, md, "1s", db))
			assert.Equal(t, 5.0/2005, sliAt(t, md, "3s", db))
		},
	},
	{
		name: "rate",
		config: `
indicators:
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
    windows: [1s, 2s]
`,
		inputs: func(ts func(int) time.Time) []pmetric.Metrics {
			batch := func(step int, cpu0, cpu1 float64) pmetric.Metrics {
				return sums("vnet.kvm.interrupts",
					point{map[string]any{"vm.name": "web-1", "cpu": int64(0)}, boot, ts(step), cpu0},
					point{map[string]any{"vm.name": "web-1", "cpu": int64(1)}, boot, ts(step), cpu1})
			}
			return []pmetric.Metrics{batch(0, 100, 200), batch(1, 150, 300), batch(2, 350, 350)}
		},
		check: func(t *testing.T, md pmetric.Metrics) {
			vm := map[string]any{"vm.name": "web-1"}
			// Last second: +200 +50; the 2s window also holds +50 +100.
			assert.Equal(t, 250.0, sliAt(t, md, "1s", vm))
			assert.Equal(t, 200.0, sliAt(t, md, "2s", vm))
		},
	},
	{
		name: "quantile_explicit",
		config: `
indicators:
  - name: ring_p99
    quantile: {histogram: vnet.tap.ring.residence, q: 0.99}
    group_by: [vm.name, network.interface.name]
    windows: [1s, 2s]
`,
		inputs: func(ts func(int) time.Time) []pmetric.Metrics {
			tap := tapAttrs("web-1", "vnet0")
			return []pmetric.Metrics{
				histograms("vnet.tap.ring.residence", residenceBounds, histPoint{tap, boot, ts(0), []uint64{5, 5, 0, 0, 0, 0, 0, 0}}),
				// +10 +40 +40 +10 in the buckets up to 8.192µs.
				histograms("vnet.tap.ring.residence", residenceBounds, histPoint{tap, boot, ts(1), []uint64{15, 45, 40, 10, 0, 0, 0, 0}}),
				// +2 above 65.536µs (the +Inf bucket), +98 in (1.024, 2.048]µs.
				histograms("vnet.tap.ring.residence", residenceBounds, histPoint{tap, boot, ts(2), []uint64{15, 143, 40, 10, 0, 0, 0, 2}}),
			}
		},
		check: func(t *testing.T, md pmetric.Metrics) {
			tap := tapAttrs("web-1", "vnet0")
			// 1s: 100 observations, 98 in (1.024, 2.048]µs, 2 above 65.536µs:
			// rank 99 falls in +Inf -> the highest bound, 65.536µs.
			assert.Equal(t, 65.536e-6, sliAt(t, md, "1s", tap))
			// 2s: 200 observations: 10, 138, 40, 10, 0, 0, 0, 2; rank 198 is
			// the last of the 10 in (4.096, 8.192]µs: 4.096 + 4.096*10/10.
			assert.InDelta(t, 8.192e-6, sliAt(t, md, "2s", tap), 1e-18)
		},
	},
	{
		name: "quantile_exponential",
		config: `
indicators:
  - name: ring_p50
    quantile: {histogram: vnet.tap.ring.residence, q: 0.5}
    group_by: [vm.name]
    windows: [2s]
  - name: ring_p90
    quantile: {histogram: vnet.tap.ring.residence, q: 0.9}
    group_by: [vm.name]
    windows: [2s]
`,
		inputs: func(ts func(int) time.Time) []pmetric.Metrics {
			vm := map[string]any{"vm.name": "web-1"}
			// Scale 0: bucket index i holds (2^i, 2^(i+1)].
			return []pmetric.Metrics{
				expoHistograms("vnet.tap.ring.residence", expoPoint{vm, boot, ts(0), 0, 0, 1, []uint64{1, 1}}),
				// +10 in (2,4], +10 in (4,8] and 0 in zero.
				expoHistograms("vnet.tap.ring.residence", expoPoint{vm, boot, ts(1), 0, 0, 1, []uint64{11, 11}}),
				// +20 in (8,16]: the range widens by one bucket.
				expoHistograms("vnet.tap.ring.residence", expoPoint{vm, boot, ts(2), 0, 0, 1, []uint64{11, 11, 20}}),
			}
		},
		check: func(t *testing.T, md pmetric.Metrics) {
			p50 := gaugeValue(t, md, "vnet.sli.value", map[string]any{"vnet.sli.indicator": "ring_p50"}).DoubleValue()
			p90 := gaugeValue(t, md, "vnet.sli.value", map[string]any{"vnet.sli.indicator": "ring_p90"}).DoubleValue()
			// 40 observations: 10 in (2,4], 10 in (4,8], 20 in (8,16].
			// p50: rank 20 -> top of (4,8] = 8. p90: rank 36 -> 16 of 20 in
			// (8,16]: 8 + 8*16/20 = 14.4.
			assert.Equal(t, 8.0, p50)
			assert.InDelta(t, 14.4, p90, 1e-12)
		},
	},
	{
		name: "gauge",
		config: `
indicators:
  - name: tx_queue_avg
    gauge: {metric: vnet.tap.queue.length}
    group_by: [vm.name]
    windows: [2s]
  - name: tx_queue_max
    gauge: {metric: vnet.tap.queue.length, aggregation: max}
    group_by: [vm.name]
    windows: [2s]
`,
		inputs: func(ts func(int) time.Time) []pmetric.Metrics {
			batch := func(step int, q0, q1 float64) pmetric.Metrics {
				return gauges("vnet.tap.queue.length",
					point{map[string]any{"vm.name": "web-1", "queue": int64(0)}, time.Time{}, ts(step), q0},
					point{map[string]any{"vm.name": "web-1", "queue": int64(1)}, time.Time{}, ts(step), q1})
			}
			return []pmetric.Metrics{batch(0, 900, 900), batch(1, 10, 30), batch(2, 250, 50)}
		},
		check: func(t *testing.T, md pmetric.Metrics) {
			avg := gaugeValue(t, md, "vnet.sli.value", map[string]any{"vnet.sli.indicator": "tx_queue_avg"}).DoubleValue()
			peak := gaugeValue(t, md, "vnet.sli.value", map[string]any{"vnet.sli.indicator": "tx_queue_max"}).DoubleValue()
			// The 2s window holds the last two samples of both queues.
			assert.Equal(t, (10+30+250+50)/4.0, avg)
			assert.Equal(t, 250.0, peak)
		},
	},
	{
		name: "objective_and_trigger",
		config: `
indicators:
  - name: tap_drop_ratio
    ratio: {bad: vnet.packet.drops, total: [vnet.interface.packets, vnet.packet.drops]}
    group_by: [vm.name]
    windows: [1s]
objectives:
  - indicator: tap_drop_ratio
    target: 0.99
    period: 1h
    burn_rate_alerts: [{long: 4s, short: 2s, factor: 2}]
triggers:
  - name: ring-overflow
    indicator: tap_drop_ratio
    window: 1s
    above: 0.01
    for: 2
`,
		inputs: func(ts func(int) time.Time) []pmetric.Metrics {
			vm := map[string]any{"vm.name": "web-1"}
			batch := func(step int, pkts, drops float64) pmetric.Metrics {
				return merge(sums("vnet.interface.packets", point{vm, boot, ts(step), pkts}),
					sums("vnet.packet.drops", point{vm, boot, ts(step), drops}))
			}
			// Seconds 1..4 carry 970 delivered and 30 dropped packets each.
			return []pmetric.Metrics{batch(0, 0, 0), batch(1, 970, 30), batch(2, 1940, 60), batch(3, 2910, 90), batch(4, 3880, 120)}
		},
		check: func(t *testing.T, md pmetric.Metrics) {
			// 3 % errors against 1 % allowed: every window burns 3x > 2.
			for _, w := range []string{"2s", "4s"} {
				assert.InDelta(t, 3.0, gaugeValue(t, md, "vnet.slo.burn_rate", map[string]any{"vnet.sli.window": w}).DoubleValue(), 1e-12)
			}
			assert.Equal(t, int64(1), gaugeValue(t, md, "vnet.slo.alert", nil).IntValue())
			// The period holds 4000 events and 120 bad: 1 - 0.03/0.01 = -2.
			assert.InDelta(t, -2.0, gaugeValue(t, md, "vnet.slo.error_budget.remaining", nil).DoubleValue(), 1e-12)
			// 0.03 > 0.01 for 4 evaluations with for: 2 -> firing.
			assert.Equal(t, int64(2), gaugeValue(t, md, "vnet.trigger.state", nil).IntValue())
		},
	},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "golden", tc.name)
			h := newManualHarness(t, tc.config)
			step := func(i int) time.Time { return t0.Add(time.Duration(i) * h.p.eval) }
			if *update {
				require.NoError(t, os.MkdirAll(dir, 0o755))
				for i, md := range tc.inputs(step) {
					require.NoError(t, golden.WriteMetricsToFile(inputFile(dir, i), md, golden.SkipMetricTimestampNormalization()))
				}
			}
			for i := 0; ; i++ {
				md, err := golden.ReadMetrics(inputFile(dir, i))
				if os.IsNotExist(err) && i > 0 {
					break
				}
				require.NoError(t, err)
				require.Equal(t, step(i), h.now())
				h.consume(md)
				h.tick(1)
			}
			got := h.last()
			expectedFile := filepath.Join(dir, "expected.yaml")
			if *update {
				out := pmetric.NewMetrics()
				got.CopyTo(out)
				require.NoError(t, golden.WriteMetricsToFile(expectedFile, out, golden.SkipMetricTimestampNormalization()))
			}
			want, err := golden.ReadMetrics(expectedFile)
			require.NoError(t, err)
			require.NoError(t, pmetrictest.CompareMetrics(want, got,
				pmetrictest.IgnoreMetricDataPointsOrder(), pmetrictest.IgnoreDatapointAttributesOrder()))
			tc.check(t, got)
		})
	}
}

func inputFile(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("input_%d.yaml", i)) }

// histPoint is one cumulative explicit histogram point.
type histPoint struct {
	attrs  map[string]any
	start  time.Time
	ts     time.Time
	counts []uint64
}

func histograms(name string, bounds []float64, pts ...histPoint) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, p := range pts {
		dp := h.DataPoints().AppendEmpty()
		explicitPoint(pcommon.NewTimestampFromTime(p.start), pcommon.NewTimestampFromTime(p.ts), bounds, p.counts...).MoveTo(dp)
		putAttrs(dp.Attributes(), p.attrs)
	}
	return md
}

// expoPoint is one cumulative exponential histogram point with positive
// buckets only.
type expoPoint struct {
	attrs  map[string]any
	start  time.Time
	ts     time.Time
	scale  int32
	zero   uint64
	offset int32
	counts []uint64
}

func expoHistograms(name string, pts ...expoPoint) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	h := m.SetEmptyExponentialHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, p := range pts {
		dp := h.DataPoints().AppendEmpty()
		expoDataPoint(pcommon.NewTimestampFromTime(p.start), pcommon.NewTimestampFromTime(p.ts), p.scale, p.zero, p.offset, p.counts...).MoveTo(dp)
		putAttrs(dp.Attributes(), p.attrs)
	}
	return md
}

func gauges(name string, pts ...point) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	g := m.SetEmptyGauge()
	for _, p := range pts {
		dp := g.DataPoints().AppendEmpty()
		putAttrs(dp.Attributes(), p.attrs)
		dp.SetTimestamp(pcommon.NewTimestampFromTime(p.ts))
		dp.SetDoubleValue(p.value)
	}
	return md
}
