package kmetrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

type point struct {
	start  pcommon.Timestamp
	values []uint64
}

func collectAll(c *Cumulative[int, string], now pcommon.Timestamp) map[string]point {
	out := map[string]point{}
	c.Collect(now, func(attrs string, start pcommon.Timestamp, values []uint64) {
		out[attrs] = point{start, values}
	})
	return out
}

func TestCumulativeKeepsSeriesMonotonic(t *testing.T) {
	c := NewCumulative[int, string](100)

	// Two kernel entries feed one series; a second series appears later.
	c.Add(1, "vm0", 10)
	c.Add(2, "vm0", 5)
	assert.Equal(t, map[string]point{"vm0": {100, []uint64{15}}}, collectAll(c, 200))

	c.Add(1, "vm0", 12)
	c.Add(2, "vm0", 9)
	c.Add(3, "vm1", 4)
	assert.Equal(t, map[string]point{"vm0": {100, []uint64{21}}, "vm1": {200, []uint64{4}}}, collectAll(c, 300))

	// Entry 2 goes away (tap recreated) and entry 4 replaces it; entry 1
	// restarts from zero between two reads: neither may lower the total.
	c.Add(1, "vm0", 3)
	c.Add(4, "vm0", 1)
	c.Add(3, "vm1", 4)
	assert.Equal(t, map[string]point{"vm0": {100, []uint64{12 + 9 + 3 + 1}}, "vm1": {200, []uint64{4}}}, collectAll(c, 400))

	// vm1 is not fed for one collection: it ended, and restarts from zero.
	c.Add(1, "vm0", 3)
	c.Add(4, "vm0", 1)
	assert.Equal(t, map[string]point{"vm0": {100, []uint64{25}}}, collectAll(c, 500))
	c.Add(3, "vm1", 2)
	c.Add(1, "vm0", 3)
	c.Add(4, "vm0", 1)
	assert.Equal(t, map[string]point{"vm0": {100, []uint64{25}}, "vm1": {500, []uint64{2}}}, collectAll(c, 600))
}

func TestCumulativeHistogramValues(t *testing.T) {
	c := NewCumulative[int, string](0)
	c.Add(1, "tap", 1, 2, 30)
	collectAll(c, 10)
	c.Add(1, "tap", 0, 1, 5) // restarted
	assert.Equal(t, map[string]point{"tap": {0, []uint64{1, 3, 35}}}, collectAll(c, 20))
}
