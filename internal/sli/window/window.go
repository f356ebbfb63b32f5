// Package window keeps sliding windows as ring buffers of per-interval
// values. The evaluation loop closes one interval per tick; each window
// sums the intervals into coarser slots so that long windows (an SLO
// period of 30d) cost a fixed number of slots instead of one per tick.
package window // import "github.com/vnetpath/vnetpath/internal/sli/window"

import (
	"fmt"
	"math"
	"time"
)

// DefaultMaxSlots bounds the slots of one window: a window w is kept at a
// resolution of about w/60 (1.7 %), e.g. 1h in 1m slots, 30d in 12h slots.
const DefaultMaxSlots = 60

// Layout is the shape shared by every group's ring for one window: Slots
// slots of TicksPerSlot evaluation intervals. The slot in use at interval
// n is (n / TicksPerSlot) mod Slots, so every ring of a layout turns in
// lockstep and needs no per-ring position.
type Layout struct {
	Interval     time.Duration
	Ticks        int64 // window length in intervals
	TicksPerSlot int64
	Slots        int64
}

// NewLayout lays out a window over an evaluation interval. The window must
// be a positive multiple of the interval.
func NewLayout(window, interval time.Duration, maxSlots int) (Layout, error) {
	if interval <= 0 {
		return Layout{}, fmt.Errorf("interval %v must be positive", interval)
	}
	if window < interval || window%interval != 0 {
		return Layout{}, fmt.Errorf("window %v is not a multiple of the interval %v", window, interval)
	}
	if maxSlots < 1 {
		maxSlots = DefaultMaxSlots
	}
	ticks := int64(window / interval)
	tps := slotWidth(ticks, int64(maxSlots))
	return Layout{
		Interval:     interval,
		Ticks:        ticks,
		TicksPerSlot: tps,
		Slots:        (ticks + tps - 1) / tps,
	}, nil
}

// slotWidth picks the intervals per slot: the fewest that keep the slots
// within maxSlots, or a little more when that divides the window exactly
// (3d at 5m: 864 intervals in 54 slots of 16 rather than 58 of 15, which
// would span 870).
func slotWidth(ticks, maxSlots int64) int64 {
	least := (ticks + maxSlots - 1) / maxSlots
	for w := least; w <= 2*least; w++ {
		if ticks%w == 0 {
			return w
		}
	}
	return least
}

// Resolution is the width of one slot: the window slides in steps of it.
func (l Layout) Resolution() time.Duration { return time.Duration(l.TicksPerSlot) * l.Interval }

// Covered returns how many intervals the window holds after interval n was
// pushed, for a ring whose data starts after interval first. The current
// slot is partly filled, so a full window spans between Ticks-TicksPerSlot+1
// and Slots*TicksPerSlot intervals.
func (l Layout) Covered(n, first int64) int64 {
	c := (l.Slots-1)*l.TicksPerSlot + n%l.TicksPerSlot + 1
	if age := n - first; age < c {
		c = age
	}
	if c < 0 {
		return 0
	}
	return c
}

// Kind says how a ring combines values.
type Kind uint8

const (
	// Sum rings add vectors and keep a running total.
	Sum Kind = iota
	// Max rings keep the largest value; empty intervals push -Inf.
	Max
	// Min rings keep the smallest value; empty intervals push +Inf.
	Min
)

// Empty is the identity of the kind: what an interval without data holds.
func (k Kind) Empty() float64 {
	switch k {
	case Max:
		return math.Inf(-1)
	case Min:
		return math.Inf(1)
	default:
		return 0
	}
}

// Size is the number of float64 a ring of width dim needs in a backing
// array handed to Init.
func (l Layout) Size(dim int) int { return int(l.Slots+1) * dim }

// Ring is one group's window: Slots vectors of width Dim and, for Sum
// rings, their running total.
type Ring struct {
	kind  Kind
	dim   int
	slots []float64 // Slots*dim
	total []float64 // dim; running sum (Sum) or scratch for the scan (Max, Min)
}

// Init points the ring at buf (len >= l.Size(dim)) and clears it.
func (r *Ring) Init(l Layout, kind Kind, dim int, buf []float64) {
	n := l.Size(dim)
	buf = buf[:n:n]
	r.kind, r.dim = kind, dim
	r.slots, r.total = buf[:int(l.Slots)*dim], buf[int(l.Slots)*dim:]
	e := kind.Empty()
	for i := range r.slots {
		r.slots[i] = e
	}
	for i := range r.total {
		r.total[i] = 0
	}
}

// Push closes interval n with the vector v, of the ring's width.
func (r *Ring) Push(l Layout, n int64, v []float64) {
	s := int((n / l.TicksPerSlot) % l.Slots)
	slot := r.slots[s*r.dim : (s+1)*r.dim]
	fresh := n%l.TicksPerSlot == 0
	switch r.kind {
	case Sum:
		if fresh {
			for i := range slot {
				r.total[i] += v[i] - slot[i]
				slot[i] = v[i]
			}
			if s == 0 {
				r.resum()
			}
			return
		}
		for i := range slot {
			slot[i] += v[i]
			r.total[i] += v[i]
		}
	case Max:
		for i := range slot {
			if fresh || v[i] > slot[i] {
				slot[i] = v[i]
			}
		}
	case Min:
		for i := range slot {
			if fresh || v[i] < slot[i] {
				slot[i] = v[i]
			}
		}
	}
}

// resum recomputes the running total once per turn of the ring, so float
// rounding from adding and subtracting cannot accumulate forever. Integer
// counts below 2^53 are exact either way.
func (r *Ring) resum() {
	for i := range r.total {
		r.total[i] = 0
	}
	for off := 0; off < len(r.slots); off += r.dim {
		for i := 0; i < r.dim; i++ {
			r.total[i] += r.slots[off+i]
		}
	}
}

// Value returns the window's vector: the sum (Sum) or the extreme (Max,
// Min) over all slots. The slice is owned by the ring and valid until the
// next Push.
func (r *Ring) Value() []float64 {
	if r.kind == Sum {
		return r.total
	}
	e := r.kind.Empty()
	for i := range r.total {
		r.total[i] = e
	}
	for off := 0; off < len(r.slots); off += r.dim {
		for i := 0; i < r.dim; i++ {
			x := r.slots[off+i]
			if (r.kind == Max && x > r.total[i]) || (r.kind == Min && x < r.total[i]) {
				r.total[i] = x
			}
		}
	}
	return r.total
}

// Remap moves a Sum ring onto buf with width dim, adding each old
// component i into component to(i), or dropping it when to(i) < 0. It
// serves histograms whose bucket layout grows or coarsens.
func (r *Ring) Remap(l Layout, dim int, buf []float64, to func(i int) int) {
	old, oldDim := r.slots, r.dim
	r.Init(l, r.kind, dim, buf)
	for s := 0; s < int(l.Slots); s++ {
		for i := 0; i < oldDim; i++ {
			if j := to(i); j >= 0 {
				r.slots[s*dim+j] += old[s*oldDim+i]
			}
		}
	}
	r.resum()
}
