package identity

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSampling(t *testing.T) {
	for _, tc := range []struct {
		ratio     float64
		all       bool
		threshold uint64
	}{
		{0, false, 0},
		{1, true, 0},
		{0.5, false, 1 << 63},
		{0.25, false, 1 << 62},
		// float64(0.001) * 2^64 is 18446744073709552 after rounding to float.
		{0.001, false, 18446744073709552},
		{math.Nextafter(1, 0), false, math.MaxUint64 - 2047},
		{1e-300, false, 0},
	} {
		all, threshold, err := Sampling(tc.ratio)
		assert.NoError(t, err, tc.ratio)
		assert.Equal(t, tc.all, all, tc.ratio)
		assert.Equal(t, tc.threshold, threshold, tc.ratio)
	}
	for _, bad := range []float64{-0.001, 1.001, math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, _, err := Sampling(bad)
		assert.ErrorContains(t, err, "must be in [0, 1]", bad)
	}
}
