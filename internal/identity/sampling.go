package identity

import (
	"fmt"
	"math"
)

// Sampling turns tracing.sampling_ratio into the BPF constants trace_all
// and trace_threshold: a packet is followed when all || hash < threshold.
// A ratio of 1 follows everything (no threshold reaches 2^64), 0 nothing;
// otherwise threshold = floor(ratio * 2^64).
func Sampling(ratio float64) (all bool, threshold uint64, err error) {
	// The negated form also refuses NaN.
	if !(ratio >= 0 && ratio <= 1) {
		return false, 0, fmt.Errorf("sampling ratio %v: must be in [0, 1]", ratio)
	}
	if ratio == 1 {
		return true, 0, nil
	}
	// Scaling by a power of two is exact; below 1 the product is below 2^64.
	t := math.Floor(math.Ldexp(ratio, 64))
	if t >= math.Ldexp(1, 64) {
		return false, math.MaxUint64, nil
	}
	return false, uint64(t), nil
}
