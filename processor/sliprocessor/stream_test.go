package sliprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func ts(sec int) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(t0.Add(time.Duration(sec) * time.Second))
}

var (
	since     = pcommon.NewTimestampFromTime(t0)
	bootStamp = pcommon.NewTimestampFromTime(boot)
)

func TestSumDelta(t *testing.T) {
	tests := []struct {
		name  string
		start []pcommon.Timestamp
		vals  []float64
		want  []float64
		reset []bool
	}{
		{
			name:  "baseline then increases",
			start: []pcommon.Timestamp{bootStamp, bootStamp, bootStamp},
			vals:  []float64{100, 130, 130},
			want:  []float64{0, 30, 0},
			reset: []bool{false, false, false},
		},
		{
			name: "a counter born after the processor counts from zero",
			// Its start time is after since: all 7 events are new.
			start: []pcommon.Timestamp{ts(1), ts(1)},
			vals:  []float64{7, 9},
			want:  []float64{7, 2},
			reset: []bool{false, false},
		},
		{
			name:  "start time changes",
			start: []pcommon.Timestamp{bootStamp, bootStamp, ts(5)},
			vals:  []float64{100, 150, 400},
			want:  []float64{0, 50, 400},
			reset: []bool{false, false, true},
		},
		{
			name:  "value decreases without start time",
			start: []pcommon.Timestamp{0, 0, 0},
			vals:  []float64{100, 150, 20},
			want:  []float64{0, 50, 20},
			reset: []bool{false, false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s stream
			for i := range tt.vals {
				d, reset := s.sumDelta(tt.start[i], ts(10+i), tt.vals[i], true, since)
				assert.Equal(t, tt.want[i], d, "point %d", i)
				assert.Equal(t, tt.reset[i], reset, "point %d", i)
			}
		})
	}
	var s stream
	for _, v := range []float64{5, 3} { // delta temporality: values are increases
		d, reset := s.sumDelta(bootStamp, ts(10+int(v)), v, false, since)
		assert.Equal(t, v, d)
		assert.False(t, reset)
	}
}

func TestOrder(t *testing.T) {
	var s stream
	assert.Equal(t, accepted, s.order(ts(5)))
	s.has, s.ts = true, ts(5)
	assert.Equal(t, duplicate, s.order(ts(5)))
	assert.Equal(t, outOfOrder, s.order(ts(4)))
	assert.Equal(t, accepted, s.order(ts(6)))
}

func explicitPoint(start, at pcommon.Timestamp, bounds []float64, counts ...uint64) pmetric.HistogramDataPoint {
	dp := pmetric.NewHistogramDataPoint()
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(at)
	dp.ExplicitBounds().FromRaw(bounds)
	dp.BucketCounts().FromRaw(counts)
	var n uint64
	for _, c := range counts {
		n += c
	}
	dp.SetCount(n)
	return dp
}

func TestExplicitDelta(t *testing.T) {
	bounds := []float64{1, 2}
	var s stream
	d := make([]float64, 3)
	assert.False(t, s.explicitDelta(explicitPoint(bootStamp, ts(1), bounds, 5, 5, 5), true, since, d))
	assert.Equal(t, []float64{0, 0, 0}, d, "baseline")
	assert.False(t, s.explicitDelta(explicitPoint(bootStamp, ts(2), bounds, 6, 9, 5), true, since, d))
	assert.Equal(t, []float64{1, 4, 0}, d)
	// A bucket lost counts: the histogram restarted.
	assert.True(t, s.explicitDelta(explicitPoint(bootStamp, ts(3), bounds, 1, 12, 5), true, since, d))
	assert.Equal(t, []float64{1, 12, 5}, d)
	// New bounds: a new baseline, reported as a reset.
	assert.True(t, s.explicitDelta(explicitPoint(bootStamp, ts(4), []float64{1, 4}, 2, 20, 5), true, since, d))
	assert.Equal(t, []float64{0, 0, 0}, d)
	assert.Equal(t, []float64{1, 4}, s.bounds)
}

func expoDataPoint(start, at pcommon.Timestamp, scale int32, zero uint64, offset int32, counts ...uint64) pmetric.ExponentialHistogramDataPoint {
	dp := pmetric.NewExponentialHistogramDataPoint()
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(at)
	dp.SetScale(scale)
	dp.SetZeroCount(zero)
	dp.Positive().SetOffset(offset)
	dp.Positive().BucketCounts().FromRaw(counts)
	n := zero
	for _, c := range counts {
		n += c
	}
	dp.SetCount(n)
	return dp
}

func TestExpoDelta(t *testing.T) {
	var s stream
	d := make([]float64, 4)
	// Scale 1, indexes 4..7.
	dz, reset := s.expoDelta(expoDataPoint(bootStamp, ts(1), 1, 2, 4, 1, 1, 1, 1), true, since, d)
	assert.Equal(t, []float64{0, 0, 0, 0}, d)
	assert.Equal(t, 0.0, dz)
	assert.False(t, reset)
	// The producer downscaled to 0: indexes 4,5 -> 2 and 6,7 -> 3, so the
	// previous counts read 2 and 2 at indexes 2 and 3.
	d = d[:2]
	dz, reset = s.expoDelta(expoDataPoint(bootStamp, ts(2), 0, 3, 2, 5, 2), true, since, d)
	assert.False(t, reset)
	assert.Equal(t, []float64{3, 0}, d)
	assert.Equal(t, 1.0, dz)
	// The range moved up: index 2 vanished with counts in it -> reset.
	dz, reset = s.expoDelta(expoDataPoint(bootStamp, ts(3), 0, 3, 3, 9, 1), true, since, d)
	assert.True(t, reset)
	assert.Equal(t, []float64{9, 1}, d)
	assert.Equal(t, 3.0, dz)
	// A finer scale than before cannot come from the same cumulative
	// histogram: a new baseline.
	d = d[:1]
	_, reset = s.expoDelta(expoDataPoint(bootStamp, ts(4), 2, 3, 12, 30), true, since, d)
	assert.True(t, reset)
	assert.Equal(t, []float64{0}, d)
}

func TestStreamDownscaleInPlace(t *testing.T) {
	// Scale 2, indexes -3..4 with counts 1..8; to scale 0 (groups of 4):
	// -3 -> -1; -2 -> -1; -1 -> -1; 0..3 -> 0; 4 -> 1.
	s := stream{scale: 2, offset: -3, counts: []float64{1, 2, 3, 4, 5, 6, 7, 8}}
	s.downscale(0)
	assert.Equal(t, int32(-1), s.offset)
	assert.Equal(t, []float64{1 + 2 + 3, 4 + 5 + 6 + 7, 8}, s.counts)
}
