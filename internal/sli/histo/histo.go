// Package histo computes quantiles over histogram bucket counts, as the
// sli processor sums them over a window, and maps exponential histogram
// buckets between scales.
//
// Within the bucket that holds the rank, the quantile is interpolated
// linearly between the bucket's bounds (as Prometheus' histogram_quantile
// does): observations are assumed spread evenly inside a bucket.
package histo // import "github.com/vnetpath/vnetpath/internal/sli/histo"

import "math"

// Explicit returns the q-quantile (0 < q < 1) of an explicit-bounds
// histogram: counts[i] is the count of (bounds[i-1], bounds[i]], counts[0]
// of (-Inf, bounds[0]] and counts[len(bounds)] of (bounds[last], +Inf).
//
//   - The first bucket is taken to start at 0 when bounds[0] > 0 (the
//     values are durations or sizes); otherwise a rank in it returns
//     bounds[0].
//   - A rank in the +Inf bucket returns the highest finite bound: the true
//     quantile is at least that, and no upper bound exists to interpolate to.
//
// ok is false when the histogram is empty or has no finite bound.
func Explicit(q float64, bounds, counts []float64) (v float64, ok bool) {
	if len(counts) != len(bounds)+1 || len(bounds) == 0 {
		return math.NaN(), false
	}
	var total float64
	for _, c := range counts {
		total += c
	}
	if !(total > 0) {
		return math.NaN(), false
	}
	rank := q * total
	var cum float64
	for i, c := range counts {
		if c <= 0 || cum+c < rank {
			cum += c
			continue
		}
		if i == len(bounds) {
			return bounds[len(bounds)-1], true
		}
		upper := bounds[i]
		var lower float64
		switch {
		case i > 0:
			lower = bounds[i-1]
		case upper > 0:
			lower = 0
		default:
			return upper, true
		}
		return lower + (upper-lower)*(rank-cum)/c, true
	}
	// Rounding left the rank above the total: the last non-empty bucket.
	return lastNonEmpty(bounds, counts), true
}

func lastNonEmpty(bounds, counts []float64) float64 {
	for i := len(counts) - 1; i >= 0; i-- {
		if counts[i] > 0 {
			if i == len(bounds) {
				return bounds[len(bounds)-1]
			}
			return bounds[i]
		}
	}
	return math.NaN()
}

// Expo returns the q-quantile of an exponential histogram with only a
// zero bucket and positive buckets: zero counts values in the zero bucket
// (reported as 0), counts[j] counts (base^(offset+j), base^(offset+j+1)]
// with base = 2^(2^-scale).
func Expo(q float64, scale, offset int32, zero float64, counts []float64) (float64, bool) {
	total := zero
	for _, c := range counts {
		total += c
	}
	if !(total > 0) {
		return math.NaN(), false
	}
	rank := q * total
	cum := zero
	if cum >= rank {
		return 0, true
	}
	last := -1
	for j, c := range counts {
		if c <= 0 {
			continue
		}
		last = j
		if cum+c < rank {
			cum += c
			continue
		}
		lower := LowerBound(scale, offset+int32(j))
		upper := LowerBound(scale, offset+int32(j)+1)
		switch {
		case math.IsInf(lower, 1):
			// A bucket beyond the largest float64 holds no real value.
			return math.NaN(), false
		case math.IsInf(upper, 1):
			// The bucket reaches past float64: report its lower bound,
			// as for an explicit histogram's +Inf bucket.
			return lower, true
		}
		return lower + (upper-lower)*(rank-cum)/c, true
	}
	if last < 0 {
		return 0, true
	}
	if v := LowerBound(scale, offset+int32(last)+1); !math.IsInf(v, 1) {
		return v, true
	}
	return math.NaN(), false
}

// LowerBound is the lower boundary of bucket index at scale:
// 2^(index * 2^-scale).
func LowerBound(scale, index int32) float64 {
	return math.Exp2(math.Ldexp(float64(index), -int(scale)))
}

// Downscale maps a bucket index at scale from to the coarser scale to
// (to <= from). The arithmetic shift floors negative indexes too, which
// is what merging 2^(from-to) neighbouring buckets means.
func Downscale(index int32, from, to int32) int32 {
	return index >> uint(from-to)
}

// Fit returns the largest scale <= scale at which the bucket indexes lo..hi
// (given at scale) fit in maxLen buckets.
func Fit(scale, lo, hi int32, maxLen int) int32 {
	for s := scale; ; s-- {
		d := scale - s
		if int(hi>>uint(d))-int(lo>>uint(d))+1 <= maxLen || s <= MinScale {
			return s
		}
	}
}

// The exponential scales OpenTelemetry allows: base 2^(2^10) at MinScale
// to base 2^(2^-20) at MaxScale.
const (
	MinScale = -10
	MaxScale = 20
)
