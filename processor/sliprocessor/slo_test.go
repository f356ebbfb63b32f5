package sliprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadatatest"
)

// feedRequests sends the cumulative requests and errors of one interval.
// The counters started with the processor: their first value counts.
func feedRequests(h *harness, requests, errs float64) {
	h.consume(merge(
		sums("requests", point{nil, t0, h.now(), requests}),
		sums("errors", point{nil, t0, h.now(), errs}),
	))
}

// TestBurnRatesSREWorkbook runs a 99.9 % SLO over a full 30-day period
// with the workbook's default alert pairs (Table 5-8: 1h/5m at 14.4,
// 6h/30m at 6, 3d/6h at 1), evaluated every 5 minutes.
//
// Traffic: 10 000 events per 5m interval for 30 days, 8640 intervals,
// 86 400 000 events; the budget allows 0.1 % of them: 86 400 bad events.
// In the last hour (12 intervals) 145 of each 10 000 fail: 1.45 %.
//
//	burn(5m)  = 145/10 000 / 0.001                  = 14.5
//	burn(30m) = 6*145/60 000 / 0.001                = 14.5
//	burn(1h)  = 12*145/120 000 / 0.001              = 14.5
//	burn(6h)  = 1 740/720 000 / 0.001               = 2.41666...
//	burn(3d)  = 1 740/8 640 000 / 0.001             = 0.201388...
//	budget remaining = 1 - (1 740/86 400 000)/0.001 = 1 - 1 740/86 400 = 0.979861...
//
// 14.5 > 14.4 on both 1h and 5m: the page pair fires, on the 12th bad
// interval: after 11 the hour burns 11*145/120 000/0.001 = 13.29. The
// 6h/30m pair (2.42 < 6) and the 3d/6h pair (0.20 < 1) stay quiet.
func TestBurnRatesSREWorkbook(t *testing.T) {
	h := newManualHarness(t, `
evaluation_interval: 5m
emit_interval: 1h
windows: [5m]
indicators:
  - name: request_errors
    ratio: {bad: errors, total: requests}
objectives:
  - indicator: request_errors
    target: 0.999
    period: 30d
`)
	const intervals, badFrom = 8640, 8640 - 12
	var requests, errs float64
	for i := range intervals {
		requests += 10000
		if i >= badFrom {
			errs += 145
		}
		feedRequests(h, requests, errs)
		h.tick(1)
		if i == intervals-2 {
			require.Empty(t, h.logs.FilterMessage("sli burn-rate alert").All(), "11 bad intervals burn 13.29x")
		}
	}
	md := h.last()
	burn := func(w string) float64 {
		return gaugeValue(t, md, "vnet.slo.burn_rate", map[string]any{"vnet.sli.window": w}).DoubleValue()
	}
	assert.InDelta(t, 14.5, burn("5m"), 1e-9)
	assert.InDelta(t, 14.5, burn("30m"), 1e-9)
	assert.InDelta(t, 14.5, burn("1h"), 1e-9)
	assert.InDelta(t, 1740.0/720000/0.001, burn("6h"), 1e-9)
	assert.InDelta(t, 1740.0/8640000/0.001, burn("3d"), 1e-9)
	assert.Equal(t, 5, countPoints(md, "vnet.slo.burn_rate"))
	budget := gaugeValue(t, md, "vnet.slo.error_budget.remaining", map[string]any{"vnet.slo.period": "30d"}).DoubleValue()
	assert.InDelta(t, 1-1740.0/86400, budget, 1e-12)

	alert := func(long, short string) int64 {
		return gaugeValue(t, md, "vnet.slo.alert", map[string]any{"vnet.slo.long_window": long, "vnet.slo.short_window": short}).IntValue()
	}
	assert.Equal(t, int64(1), alert("1h", "5m"))
	assert.Equal(t, int64(0), alert("6h", "30m"))
	assert.Equal(t, int64(0), alert("3d", "6h"))

	logged := h.logs.FilterMessage("sli burn-rate alert").All()
	require.Len(t, logged, 1)
	c := logged[0].ContextMap()
	assert.Equal(t, "slo:request_errors:1h/5m", c["alert"])
	assert.Equal(t, "ok", c["from"])
	assert.Equal(t, "firing", c["to"])
	assert.Equal(t, 14.4, c["factor"])
	metadatatest.AssertEqualProcessorSliSloAlertTransitions(t, h.tel, []metricdata.DataPoint[int64]{{
		Value: 1, Attributes: attribute.NewSet(attribute.String("indicator", "request_errors"),
			attribute.String("long_window", "1h"), attribute.String("short_window", "5m"), attribute.String("to", "firing")),
	}}, metricdatatest.IgnoreTimestamp())
}

// A burn-rate pair needs both windows: a blip that the long window
// absorbs does not alert, and an alert resolves as soon as the short
// window recovers. Windows are scaled down (1m/5s, 1s evaluation) with the
// workbook's factor 14.4 and target 99.9 %.
func TestBurnRateAlertNeedsBothWindows(t *testing.T) {
	h := newHarness(t, `
windows: [5s]
indicators:
  - name: request_errors
    ratio: {bad: errors, total: requests}
objectives:
  - indicator: request_errors
    target: 0.999
    period: 1h
    burn_rate_alerts: [{long: 1m, short: 5s, factor: 14.4}]
    actions: [log]
`)
	var requests, errs float64
	second := func(bad float64) int64 {
		requests, errs = requests+1000, errs+bad
		feedRequests(h, requests, errs)
		h.tick(1)
		return gaugeValue(t, h.last(), "vnet.slo.alert", nil).IntValue()
	}
	var states []int64
	for range 60 { // a clean minute
		states = append(states, second(0))
	}
	// A blip of 100 errors: 5s burns 100/5000/0.001 = 20 > 14.4 but the
	// minute 100/60000/0.001 = 1.67: no alert.
	states = append(states, second(100))
	for range 5 {
		states = append(states, second(0))
	}
	// A 2s spike at 100 % errors. Its first second already burns the 5s
	// window at 1000/5000/0.001 = 200 and the minute at 1100/60000/0.001 =
	// 18.3 > 14.4: both over, it fires.
	states = append(states, second(1000), second(1000))
	// Errors stop: the 5s window still holds the spike's second second
	// four intervals later (200x); the fifth leaves it at 0 while the
	// minute still burns 2100/60000/0.001 = 35.
	for range 6 {
		states = append(states, second(0))
	}
	want := make([]int64, 66)
	want = append(want, 1, 1, 1, 1, 1, 1, 0, 0)
	assert.Equal(t, want, states)
	h.stop()
	assert.Len(t, h.logs.FilterMessage("sli trigger firing").All(), 1)
	resolved := h.logs.FilterMessage("sli trigger resolved").All()
	require.Len(t, resolved, 1)
	assert.Equal(t, "slo:request_errors:1m/5s", resolved[0].ContextMap()["trigger"])
}
