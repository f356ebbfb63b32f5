package histo

import (
	"math"
	"testing"
)

func TestExplicit(t *testing.T) {
	bounds := []float64{1, 2, 4, 8}
	tests := []struct {
		name   string
		q      float64
		counts []float64
		want   float64
		ok     bool
	}{
		// 100 observations: 10 in (0,1], 40 in (1,2], 40 in (2,4], 10 in (4,8].
		// p50: rank 50 = 10 + 40 -> the top of (1,2] = 2.
		{"p50 at a bound", 0.5, []float64{10, 40, 40, 10, 0}, 2, true},
		// p75: rank 75, 25 of the 40 in (2,4]: 2 + 2*25/40 = 3.25.
		{"p75 interpolated", 0.75, []float64{10, 40, 40, 10, 0}, 3.25, true},
		// p99: rank 99, 9 of the 10 in (4,8]: 4 + 4*9/10 = 7.6.
		{"p99 last finite bucket", 0.99, []float64{10, 40, 40, 10, 0}, 7.6, true},
		// p5: rank 5 in the first bucket, which starts at 0: 1*5/10 = 0.5.
		{"first bucket from zero", 0.05, []float64{10, 40, 40, 10, 0}, 0.5, true},
		// 2 of 100 above 8: p99 (rank 99) lands in +Inf -> highest bound 8.
		{"+Inf bucket", 0.99, []float64{10, 40, 40, 8, 2}, 8, true},
		// Empty buckets before the rank are skipped: all 4 in (4,8], p50:
		// rank 2 -> 4 + 4*2/4 = 6.
		{"skips empty", 0.5, []float64{0, 0, 0, 4, 0}, 6, true},
		{"empty histogram", 0.5, []float64{0, 0, 0, 0, 0}, math.NaN(), false},
	}
	for _, tt := range tests {
		got, ok := Explicit(tt.q, bounds, tt.counts)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("%s: got %v %v, want %v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := Explicit(0.5, []float64{-1, 1}, []float64{4, 0, 0}); !ok || got != -1 {
		t.Errorf("non-positive first bound: %v %v, want -1", got, ok)
	}
	if _, ok := Explicit(0.5, nil, []float64{3}); ok {
		t.Error("histogram without bounds gave a quantile")
	}
}

func TestExpo(t *testing.T) {
	// Scale 0: base 2, bucket j covers (2^j, 2^(j+1)].
	// offset 1: counts for (2,4], (4,8], (8,16].
	counts := []float64{10, 0, 10}
	// p50: rank 10 of 20 -> top of (2,4] = 4.
	if got, _ := Expo(0.5, 0, 1, 0, counts); got != 4 {
		t.Errorf("p50 %v, want 4", got)
	}
	// p75: rank 15, 5 of 10 in (8,16] -> 8 + 8*5/10 = 12.
	if got, _ := Expo(0.75, 0, 1, 0, counts); got != 12 {
		t.Errorf("p75 %v, want 12", got)
	}
	// Zero bucket holds the rank -> 0.
	if got, _ := Expo(0.25, 0, 1, 10, counts); got != 0 {
		t.Errorf("zero bucket %v, want 0", got)
	}
	// Scale 1: base sqrt2; bucket -2 covers (0.5, 0.7071...]; p50 of 2
	// observations there: 0.5 + (sqrt(0.5)-0.5)*1/2.
	got, _ := Expo(0.5, 1, -2, 0, []float64{2})
	if want := 0.5 + (math.Sqrt(0.5)-0.5)/2; math.Abs(got-want) > 1e-15 {
		t.Errorf("scale 1: %v, want %v", got, want)
	}
	if _, ok := Expo(0.5, 0, 0, 0, []float64{0, 0}); ok {
		t.Error("empty exponential histogram gave a quantile")
	}
	// Scale -10: bucket 0 is (1, 2^1024]; its upper bound overflows, so
	// the lower bound stands for it. Bucket 1 starts beyond float64.
	if got, ok := Expo(0.5, -10, 0, 0, []float64{4}); !ok || got != 1 {
		t.Errorf("overflowing upper bound: %v %v, want 1", got, ok)
	}
	if _, ok := Expo(0.5, -10, 1, 0, []float64{4}); ok {
		t.Error("a bucket beyond float64 gave a quantile")
	}
}

func TestDownscaleAndFit(t *testing.T) {
	// Scale 2 -> 0 merges groups of 4: indexes 0..3 -> 0, -1..-4 -> -1.
	for idx, want := range map[int32]int32{0: 0, 3: 0, 4: 1, -1: -1, -4: -1, -5: -2} {
		if got := Downscale(idx, 2, 0); got != want {
			t.Errorf("Downscale(%d) = %d, want %d", idx, got, want)
		}
	}
	// Indexes 0..200 at scale 3 need 201 buckets; at scale 2, 101; at 1, 51.
	if got := Fit(3, 0, 200, 160); got != 2 {
		t.Errorf("Fit = %d, want 2", got)
	}
	if got := Fit(3, 0, 200, 60); got != 1 {
		t.Errorf("Fit = %d, want 1", got)
	}
	if got := Fit(3, 0, 10, 160); got != 3 {
		t.Errorf("Fit = %d, want 3", got)
	}
}

func FuzzExplicit(f *testing.F) {
	f.Add(0.99, 1.0, 2.0, 4.0, 3.0, 5.0, 0.0, 1.0)
	f.Fuzz(func(t *testing.T, q, b0, b1, b2, c0, c1, c2, c3 float64) {
		if !(q > 0 && q < 1) {
			return
		}
		bounds := []float64{b0, b1, b2}
		if !(b0 < b1 && b1 < b2) || math.IsInf(b0, 0) || math.IsInf(b2, 0) {
			return
		}
		counts := []float64{c0, c1, c2, c3}
		for _, c := range counts {
			if !(c >= 0) || c > 1e15 {
				return
			}
		}
		v, ok := Explicit(q, bounds, counts)
		if !ok {
			return
		}
		lo := math.Min(0, b0)
		if v < lo || v > b2 || math.IsNaN(v) {
			t.Fatalf("quantile %v outside [%v, %v] for %v %v", v, lo, b2, bounds, counts)
		}
	})
}
