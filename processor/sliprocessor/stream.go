package sliprocessor

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vnetpath/vnetpath/internal/sli/histo"
)

type streamState uint8

const (
	streamFree     streamState = iota // slot unused
	streamOK                          // feeds a group
	streamFiltered                    // refused by where
	streamMissing                     // lacks a group_by attribute
)

// stream is one cumulative input series (resource, scope, metric,
// attributes) and what its previous point held, to compute deltas.
type stream struct {
	key   uint64
	group int32
	state streamState
	seen  int64 // interval of the last point

	has   bool // a previous point is held
	start pcommon.Timestamp
	ts    pcommon.Timestamp
	value float64 // sums: the last cumulative value

	// Histograms: the previous cumulative counts. Explicit: counts[i] of
	// bucket i under bounds. Exponential: counts[j] of index offset+j at
	// scale, plus zero.
	count  float64
	zero   float64
	scale  int32
	offset int32
	counts []float64
	bounds []float64
}

// order refuses a point that is not newer than the previous one. It is
// checked before anything else so that a replayed batch changes nothing.
func (s *stream) order(ts pcommon.Timestamp) outcome {
	switch {
	case !s.has || ts > s.ts:
		return accepted
	case ts == s.ts:
		return duplicate
	default:
		return outOfOrder
	}
}

// restarted reports a start-time change; producers that send no start
// time are judged by their values alone.
func (s *stream) restarted(start pcommon.Timestamp) bool {
	return start != s.start && start != 0 && s.start != 0
}

// sumDelta returns a monotonic sum's increase since the previous point.
// A stream's first point is a baseline (no increase) unless the counter
// started after the processor did: then its whole value is new. After a
// reset (start time changed or value decreased) the value is the increase.
func (s *stream) sumDelta(start, ts pcommon.Timestamp, v float64, cumulative bool, since pcommon.Timestamp) (d float64, reset bool) {
	first := !s.has
	s.has, s.ts = true, ts
	switch {
	case !cumulative:
		d = v
	case first:
		if start != 0 && start >= since {
			d = v
		}
	case s.restarted(start) || v < s.value:
		d, reset = v, true
	default:
		d = v - s.value
	}
	s.start, s.value = start, v
	return d, reset
}

// explicitDelta writes the bucket increases since the previous point into
// d, which has one slot per bucket. A change of bounds starts over from a
// baseline and reports a reset.
func (s *stream) explicitDelta(dp pmetric.HistogramDataPoint, cumulative bool, since pcommon.Timestamp, d []float64) (reset bool) {
	first := !s.has
	s.has, s.ts = true, dp.Timestamp()
	bc := dp.BucketCounts()
	start := dp.StartTimestamp()
	relayout := !sameBounds(s.bounds, dp.ExplicitBounds())
	switch {
	case !cumulative:
		copyCounts(d, bc)
	case first || relayout:
		if first && start != 0 && start >= since {
			copyCounts(d, bc)
		} else {
			clear(d)
		}
		reset = !first
	case s.restarted(start) || float64(dp.Count()) < s.count || decreased(s.counts, bc):
		copyCounts(d, bc)
		reset = true
	default:
		for i := range d {
			d[i] = float64(bc.At(i)) - s.counts[i]
		}
	}
	if relayout {
		s.bounds = append(s.bounds[:0], dp.ExplicitBounds().AsRaw()...)
	}
	s.counts = s.counts[:0]
	for i := 0; i < bc.Len(); i++ {
		s.counts = append(s.counts, float64(bc.At(i)))
	}
	s.start, s.count = start, float64(dp.Count())
	return reset
}

func sameBounds(have []float64, got pcommon.Float64Slice) bool {
	if len(have) != got.Len() {
		return false
	}
	for i, b := range have {
		if got.At(i) != b {
			return false
		}
	}
	return true
}

func copyCounts(d []float64, bc pcommon.UInt64Slice) {
	for i := range d {
		d[i] = float64(bc.At(i))
	}
}

func decreased(prev []float64, bc pcommon.UInt64Slice) bool {
	for i, p := range prev {
		if float64(bc.At(i)) < p {
			return true
		}
	}
	return false
}

// expoDelta writes the increases since the previous point of an
// exponential histogram's positive buckets into d (d[j] for index
// offset+j at the point's scale, len = the point's bucket count) and
// returns the zero bucket's increase. A finer scale than before cannot
// follow from a cumulative histogram: it starts over from a baseline.
func (s *stream) expoDelta(dp pmetric.ExponentialHistogramDataPoint, cumulative bool, since pcommon.Timestamp, d []float64) (dz float64, reset bool) {
	first := !s.has
	s.has, s.ts = true, dp.Timestamp()
	pos := dp.Positive()
	bc := pos.BucketCounts()
	off, scale := pos.Offset(), dp.Scale()
	start := dp.StartTimestamp()
	zero, count := float64(dp.ZeroCount()), float64(dp.Count())
	if !first && scale < s.scale {
		s.downscale(scale)
	}
	switch {
	case !cumulative:
		copyCounts(d, bc)
		dz = zero
	case first || scale > s.scale:
		if first && start != 0 && start >= since {
			copyCounts(d, bc)
			dz = zero
		} else {
			clear(d)
		}
		reset = !first
	case s.restarted(start) || count < s.count || zero < s.zero || s.expoDecreased(off, bc):
		copyCounts(d, bc)
		dz, reset = zero, true
	default:
		for j := range d {
			d[j] = float64(bc.At(j)) - s.prevAt(off+int32(j))
		}
		dz = zero - s.zero
	}
	s.counts = s.counts[:0]
	for j := 0; j < bc.Len(); j++ {
		s.counts = append(s.counts, float64(bc.At(j)))
	}
	s.start, s.count, s.zero, s.scale, s.offset = start, count, zero, scale, off
	return dz, reset
}

func (s *stream) prevAt(idx int32) float64 {
	if k := int(idx - s.offset); k >= 0 && k < len(s.counts) {
		return s.counts[k]
	}
	return 0
}

// expoDecreased reports whether any bucket lost counts, including
// previous buckets the new point no longer covers.
func (s *stream) expoDecreased(off int32, bc pcommon.UInt64Slice) bool {
	for k, c := range s.counts {
		if c == 0 {
			continue
		}
		j := int(s.offset) + k - int(off)
		if j < 0 || j >= bc.Len() || float64(bc.At(j)) < c {
			return true
		}
	}
	return false
}

// downscale merges the previous counts into the coarser scale in place:
// destination slots never lie after their sources, so one ascending pass
// moves every count before its slot is reused.
func (s *stream) downscale(scale int32) {
	newOff := histo.Downscale(s.offset, s.scale, scale)
	n := 0
	for k, c := range s.counts {
		j := int(histo.Downscale(s.offset+int32(k), s.scale, scale) - newOff)
		s.counts[k] = 0
		s.counts[j] += c
		n = j + 1
	}
	s.counts = s.counts[:n]
	s.offset, s.scale = newOff, scale
}
