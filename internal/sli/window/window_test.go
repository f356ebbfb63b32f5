package window

import (
	"math"
	"testing"
	"time"
)

func TestNewLayout(t *testing.T) {
	tests := []struct {
		window, interval    time.Duration
		slots, tps, covered int64
		resolution          time.Duration
	}{
		{time.Second, time.Second, 1, 1, 1, time.Second},
		{10 * time.Second, time.Second, 10, 1, 10, time.Second},
		{time.Minute, time.Second, 60, 1, 60, time.Second},
		{5 * time.Minute, time.Second, 60, 5, 300, 5 * time.Second},
		{time.Hour, time.Second, 60, 60, 3600, time.Minute},
		{30 * 24 * time.Hour, time.Second, 60, 43200, 2592000, 12 * time.Hour},
		// 61 intervals: no width up to 4 divides them; 31 slots of 2 span
		// up to 62 intervals.
		{61 * time.Second, time.Second, 31, 2, 62, 2 * time.Second},
		// 3d at 5m: 864 intervals in 54 slots of 16 (15 would need 58).
		{72 * time.Hour, 5 * time.Minute, 54, 16, 864, 80 * time.Minute},
		// 30d at 5m: 8640 intervals in 60 slots of 144 (12h).
		{720 * time.Hour, 5 * time.Minute, 60, 144, 8640, 12 * time.Hour},
	}
	for _, tt := range tests {
		l, err := NewLayout(tt.window, tt.interval, DefaultMaxSlots)
		if err != nil {
			t.Fatalf("%v: %v", tt.window, err)
		}
		if l.Slots != tt.slots || l.TicksPerSlot != tt.tps || l.Resolution() != tt.resolution {
			t.Errorf("%v: slots %d tps %d res %v, want %d %d %v", tt.window, l.Slots, l.TicksPerSlot, l.Resolution(), tt.slots, tt.tps, tt.resolution)
		}
		// At the last interval of a slot the window is fully covered.
		n := 10*l.Slots*l.TicksPerSlot - 1
		if got := l.Covered(n, -1); got != tt.covered {
			t.Errorf("%v: covered %d, want %d", tt.window, got, tt.covered)
		}
	}
	if _, err := NewLayout(1500*time.Millisecond, time.Second, 60); err == nil {
		t.Error("window not a multiple of the interval accepted")
	}
	if _, err := NewLayout(time.Second, 0, 60); err == nil {
		t.Error("zero interval accepted")
	}
}

func TestCoveredYoungRing(t *testing.T) {
	l, _ := NewLayout(10*time.Second, time.Second, 60)
	// Data starts after interval 4 (the baseline interval); at interval 7
	// the window holds intervals 5, 6, 7.
	if got := l.Covered(7, 4); got != 3 {
		t.Fatalf("covered %d, want 3", got)
	}
	if got := l.Covered(4, 4); got != 0 {
		t.Fatalf("covered %d, want 0", got)
	}
}

func newRing(t *testing.T, window time.Duration, kind Kind, dim int) (Layout, *Ring) {
	t.Helper()
	l, err := NewLayout(window, time.Second, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := &Ring{}
	r.Init(l, kind, dim, make([]float64, l.Size(dim)))
	return l, r
}

func TestSumRingSlides(t *testing.T) {
	// 6s window in 3 slots of 2s.
	l, r := newRing(t, 6*time.Second, Sum, 2)
	sums := []float64{}
	for n := int64(0); n < 10; n++ {
		r.Push(l, n, []float64{float64(n + 1), 1})
		sums = append(sums, r.Value()[0])
	}
	// Slots hold intervals {0,1},{2,3},{4,5},{6,7},{8,9}; the window is the
	// last three slots including the current, partly filled one.
	exp := []float64{
		1, 1 + 2, 1 + 2 + 3, 1 + 2 + 3 + 4, 1 + 2 + 3 + 4 + 5, 1 + 2 + 3 + 4 + 5 + 6,
		3 + 4 + 5 + 6 + 7, 3 + 4 + 5 + 6 + 7 + 8,
		5 + 6 + 7 + 8 + 9, 5 + 6 + 7 + 8 + 9 + 10,
	}
	for i := range exp {
		if sums[i] != exp[i] {
			t.Errorf("interval %d: sum %v, want %v", i, sums[i], exp[i])
		}
	}
	if got := r.Value()[1]; got != 6 {
		t.Errorf("count component %v, want 6", got)
	}
}

func TestMaxMinRings(t *testing.T) {
	lmax, rmax := newRing(t, 3*time.Second, Max, 1)
	lmin, rmin := newRing(t, 3*time.Second, Min, 1)
	in := []float64{5, 1, math.Inf(-1), 2, 9, 0}
	wantMax := []float64{5, 5, 5, 2, 9, 9}
	for n, v := range in {
		rmax.Push(lmax, int64(n), []float64{v})
		if got := rmax.Value()[0]; got != wantMax[n] {
			t.Errorf("max at %d: %v, want %v", n, got, wantMax[n])
		}
	}
	inMin := []float64{5, 1, math.Inf(1), 2, 9, 0}
	wantMin := []float64{5, 1, 1, 1, 2, 0}
	for n, v := range inMin {
		rmin.Push(lmin, int64(n), []float64{v})
		if got := rmin.Value()[0]; got != wantMin[n] {
			t.Errorf("min at %d: %v, want %v", n, got, wantMin[n])
		}
	}
}

func TestRemapMergesComponents(t *testing.T) {
	l, r := newRing(t, 3*time.Second, Sum, 4)
	r.Push(l, 0, []float64{1, 2, 3, 4})
	r.Push(l, 1, []float64{10, 20, 30, 40})
	// Merge pairs: 0,1 -> 0 and 2,3 -> 1.
	r.Remap(l, 2, make([]float64, l.Size(2)), func(i int) int { return i / 2 })
	if got := r.Value(); got[0] != 33 || got[1] != 77 {
		t.Fatalf("remapped total %v, want [33 77]", got)
	}
	r.Push(l, 2, []float64{1, 1})
	r.Push(l, 3, []float64{0, 0}) // evicts interval 0's slot: 3 and 7
	if got := r.Value(); got[0] != 31 || got[1] != 71 {
		t.Fatalf("after eviction %v, want [31 71]", got)
	}
}

func BenchmarkSumRingPush(b *testing.B) {
	l, _ := NewLayout(time.Hour, time.Second, DefaultMaxSlots)
	r := &Ring{}
	r.Init(l, Sum, 2, make([]float64, l.Size(2)))
	v := []float64{1, 2}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Push(l, int64(i), v)
	}
}
