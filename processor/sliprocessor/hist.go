package sliprocessor

import (
	"slices"

	"github.com/vnetpath/vnetpath/internal/sli/histo"
	"github.com/vnetpath/vnetpath/internal/sli/window"
)

type histKind uint8

const (
	histNone histKind = iota
	histExplicit
	histExpo
)

// maxExpoBuckets bounds a group's exponential buckets (besides the zero
// bucket). A wider range is downscaled: 64 buckets at scale 1 span 2^32,
// e.g. 1 ns to 4 s, with buckets 41 % wide.
const maxExpoBuckets = 64

// histLayout is how a histogram group's vectors map to buckets. Explicit:
// slot i is bucket i of bounds. Exponential: slot 0 is the zero bucket and
// slot 1+j holds index offset+j at scale.
type histLayout struct {
	kind   histKind
	bounds []float64
	scale  int32
	offset int32
}

// allocRings gives a group its pending vector and one ring per window,
// all of width dim, in one backing array.
func (ind *indicator) allocRings(g *group, dim int) {
	size := 0
	for _, l := range ind.layouts {
		size += l.Size(dim)
	}
	g.buf = make([]float64, size)
	g.pending = make([]float64, dim)
	g.rings = make([]window.Ring, len(ind.layouts))
	off := 0
	for i, l := range ind.layouts {
		n := l.Size(dim)
		g.rings[i].Init(l, ind.ring, dim, g.buf[off:off+n])
		off += n
	}
	ind.clearPending(g)
}

// clearPending readies the open interval's vector.
func (ind *indicator) clearPending(g *group) {
	e := ind.ring.Empty()
	for i := range g.pending {
		g.pending[i] = e
	}
}

// remap moves a group's rings and pending vector to width dim, adding old
// slot i into to(i).
func (ind *indicator) remap(g *group, dim int, to func(i int) int) {
	size := 0
	for _, l := range ind.layouts {
		size += l.Size(dim)
	}
	buf := make([]float64, size)
	off := 0
	for i, l := range ind.layouts {
		n := l.Size(dim)
		g.rings[i].Remap(l, dim, buf[off:off+n], to)
		off += n
	}
	g.buf = buf
	pending := make([]float64, dim)
	for i, v := range g.pending {
		if j := to(i); j >= 0 {
			pending[j] += v
		}
	}
	g.pending = pending
}

// setExplicit lays a new histogram group out for bounds.
func (ind *indicator) setExplicit(g *group, bounds []float64) {
	g.hist = histLayout{kind: histExplicit, bounds: slices.Clone(bounds)}
	ind.allocRings(g, len(bounds)+1)
}

// setExpo lays a new histogram group out at scale with no bucket yet; the
// first deltas widen it.
func (ind *indicator) setExpo(g *group, scale int32) {
	g.hist = histLayout{kind: histExpo, scale: scale}
	ind.allocRings(g, 1)
}

// addExpo adds a stream's exponential deltas (d[j] for index off+j at
// scale, dz for the zero bucket) to the group's pending vector, first
// coarsening or widening the group's layout when the deltas need it.
func (ind *indicator) addExpo(g *group, scale, off int32, d []float64, dz float64) {
	if scale < g.hist.scale {
		// A coarser stream coarsens the group: it cannot be split finer.
		n := max(int32(len(g.pending)-1), 1)
		ind.expoRelayout(g, scale, histo.Downscale(g.hist.offset, g.hist.scale, scale),
			histo.Downscale(g.hist.offset+n-1, g.hist.scale, scale))
	}
	lo, hi, any := int32(0), int32(0), false
	for j, v := range d {
		if v == 0 {
			continue
		}
		idx := histo.Downscale(off+int32(j), scale, g.hist.scale)
		if !any {
			lo, any = idx, true
		}
		hi = idx
	}
	if any {
		n := int32(len(g.pending) - 1)
		if n == 0 {
			ind.expoRelayout(g, g.hist.scale, lo, hi)
		} else if lo < g.hist.offset || hi >= g.hist.offset+n {
			ind.expoRelayout(g, g.hist.scale, min(lo, g.hist.offset), max(hi, g.hist.offset+n-1))
		}
		for j, v := range d {
			if v == 0 {
				continue
			}
			pos := histo.Downscale(off+int32(j), scale, g.hist.scale) - g.hist.offset
			if pos < 0 { // below a clamped layout: see expoRelayout
				pos = -1
			}
			g.pending[1+pos] += v
		}
	}
	g.pending[0] += dz
}

// expoRelayout moves a group to cover indexes lo..hi (given at scale),
// downscaling until they fit in maxExpoBuckets. At the coarsest scale a
// wider range (only indexes beyond float64 can make one) keeps its top
// buckets and folds the lower ones into the zero bucket, so memory stays
// bounded whatever the input.
func (ind *indicator) expoRelayout(g *group, scale, lo, hi int32) {
	if hi < lo { // no positive bucket yet
		hi = lo
	}
	ns := histo.Fit(scale, lo, hi, maxExpoBuckets)
	nlo, nhi := histo.Downscale(lo, scale, ns), histo.Downscale(hi, scale, ns)
	nlo = max(nlo, nhi-maxExpoBuckets+1)
	oldScale, oldOff := g.hist.scale, g.hist.offset
	ind.remap(g, 2+int(nhi-nlo), func(i int) int { // zero bucket + nhi-nlo+1
		if i == 0 {
			return 0
		}
		return 1 + max(int(histo.Downscale(oldOff+int32(i-1), oldScale, ns)-nlo), -1)
	})
	g.hist.scale, g.hist.offset = ns, nlo
}

// quantile computes the group's quantile from a window's summed counts.
func (ind *indicator) quantile(g *group, v []float64) (float64, bool) {
	switch g.hist.kind {
	case histExplicit:
		return histo.Explicit(ind.q, g.hist.bounds, v)
	case histExpo:
		return histo.Expo(ind.q, g.hist.scale, g.hist.offset, v[0], v[1:])
	}
	return 0, false
}
