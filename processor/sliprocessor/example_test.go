package sliprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// TestWorkedExample replays the README's worked example: 20 000 packets/s
// towards web-1's tap, a 99.99 % objective, 6 hours of clean traffic, then
// 10 minutes at 1 % FULL_RING drops, then clean traffic again. The 3d/6h
// ticket pair needs 3 days of history to mean anything and is left out.
func TestWorkedExample(t *testing.T) {
	h := newManualHarness(t, `
emit_interval: 1m
windows: [1s]
indicators:
  - name: tap_drop_ratio
    ratio: {bad: vnet.packet.drops, total: [vnet.interface.packets, vnet.packet.drops]}
    where: {network.io.direction: transmit}
    group_by: [vm.name, network.interface.name]
objectives:
  - indicator: tap_drop_ratio
    target: 0.9999
    period: 30d
    burn_rate_alerts: [{long: 1h, short: 5m, factor: 14.4}, {long: 6h, short: 30m, factor: 6}]
triggers:
  - {name: ring-overflow, indicator: tap_drop_ratio, window: 1s, above: 0.001,
     for: 3, recover_below: 0.0006, recover_for: 1s, cooldown: 30s, actions: [log]}
`)
	// One batch, rewritten in place every second as the next scrape.
	md := merge(
		sums("vnet.interface.packets", point{tapAttrs("web-1", "vnet3", "network.io.direction", "transmit"), boot, t0, 0}),
		sums("vnet.packet.drops", point{tapAttrs("web-1", "vnet3", "vnet.drop.reason", "FULL_RING"), boot, t0, 0}),
	)
	delivered := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
	dropped := md.ResourceMetrics().At(1).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0)
	var sent, drops float64
	// events records, per second of a phase, the transitions logged.
	type event struct {
		second int
		what   string
	}
	var events []event
	seen := 0
	second := func(phase string, i int, ok, lost float64) {
		sent, drops = sent+ok, drops+lost
		now := pcommon.NewTimestampFromTime(h.now())
		delivered.SetTimestamp(now)
		delivered.SetDoubleValue(sent)
		dropped.SetTimestamp(now)
		dropped.SetDoubleValue(drops)
		_, err := h.p.processMetrics(context.Background(), md)
		require.NoError(t, err)
		h.tick(1)
		for _, e := range h.logs.All()[seen:] {
			c := e.ContextMap()
			name, _ := c["trigger"].(string)
			if name == "" {
				name, _ = c["alert"].(string)
			}
			events = append(events, event{i, phase + " " + name + " " + c["from"].(string) + "->" + c["to"].(string)})
		}
		seen = h.logs.Len()
	}
	for i := 1; i <= 6*3600; i++ {
		second("clean", i, 20000, 0)
	}
	require.Empty(t, events)
	for i := 1; i <= 600; i++ {
		second("incident", i, 19800, 200)
	}
	for i := 1; i <= 300; i++ {
		second("after", i, 20000, 0)
	}
	assert.Equal(t, []event{
		{1, "incident ring-overflow ok->pending"},
		{3, "incident ring-overflow pending->firing"},
		// burn(1h) = 100 t / covered, covered = 3540 + (t-1) mod 60 + 1
		// intervals: 51 500/3 575 = 14.41 at t = 515, 51 400/3 574 = 14.38
		// before.
		{515, "incident slo:tap_drop_ratio:1h/5m ok->firing"},
		{1, "after ring-overflow firing->recovering"},
		{2, "after ring-overflow recovering->ok"},
		// burn(5m) = 100 (covered - c)/covered, covered = 296 + (4+c) mod 5:
		// 100*40/296 = 13.5 at c = 256, 100*45/300 = 15 before.
		{256, "after slo:tap_drop_ratio:1h/5m firing->ok"},
	}, events)

	// The 6h/30m pair never fired: burn(6h) peaked at 60 000/21 241 = 2.82.
	last := h.last()
	assert.InDelta(t, 100*600/(59.0*360+(21600+599+300)%360+1), gaugeValue(t, last, "vnet.slo.burn_rate",
		map[string]any{"vnet.sli.window": "6h"}).DoubleValue(), 1e-9)
	assert.Equal(t, int64(0), gaugeValue(t, last, "vnet.slo.alert", map[string]any{"vnet.slo.long_window": "6h"}).IntValue())
	// Period to date (6h15m of data, not a month): 120 000 drops in
	// 22 499 s x 20 000 packets (the first second is the baseline):
	// 1 - (120 000/449 980 000)/0.0001 = -1.67.
	assert.InDelta(t, 1-120000.0/449980000/0.0001, gaugeValue(t, last, "vnet.slo.error_budget.remaining", nil).DoubleValue(), 1e-9)
}
