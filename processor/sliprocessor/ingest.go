package sliprocessor

import (
	"encoding/binary"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vnetpath/vnetpath/internal/action"
	"github.com/vnetpath/vnetpath/internal/sli/histo"
	"github.com/vnetpath/vnetpath/internal/sli/trigger"
	"github.com/vnetpath/vnetpath/internal/sli/window"
)

// subscription routes a metric name to an indicator.
type subscription struct {
	ind  *indicator
	role role
}

// ingest takes the points the indicators want from a batch into their
// groups' open interval. It reads the batch and keeps nothing of it.
// Callers hold p.mu.
func (p *sliProcessor) ingest(md pmetric.Metrics) {
	tick := p.closed + 1
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := rm.Resource().Attributes()
		var rh uint64
		resHashed := false
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			var sh uint64
			scopeHashed := false
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				subs := p.byMetric[m.Name()]
				if len(subs) == 0 {
					continue
				}
				// Identity hashes are computed once per resource and scope,
				// and only for batches that feed an indicator.
				if !resHashed {
					rh, resHashed = p.hash.attrs(res), true
				}
				if !scopeHashed {
					sh, scopeHashed = combine(rh, p.hash.str(sm.Scope().Name())), true
				}
				mh := combine(sh, p.hash.str(m.Name()))
				for _, sub := range subs {
					p.ingestMetric(sub, m, mh, res, tick)
				}
			}
		}
	}
}

func (p *sliProcessor) ingestMetric(sub subscription, m pmetric.Metric, mh uint64, res pcommon.Map, tick int64) {
	ind := sub.ind
	switch m.Type() {
	case pmetric.MetricTypeSum:
		sum := m.Sum()
		dps := sum.DataPoints()
		temporality := sum.AggregationTemporality()
		switch {
		case ind.kind == gaugeKind && !sum.IsMonotonic() && temporality == pmetric.AggregationTemporalityCumulative:
			// A cumulative up-down counter reports a level, as a gauge does.
			p.ingestSamples(ind, dps, mh, res, tick)
		case (ind.kind == ratioKind || ind.kind == rateKind) && sum.IsMonotonic() && temporality != pmetric.AggregationTemporalityUnspecified:
			p.ingestSums(ind, sub.role, dps, temporality == pmetric.AggregationTemporalityCumulative, mh, res, tick)
		default:
			ind.stats.points[unsupported] += int64(dps.Len())
		}
	case pmetric.MetricTypeGauge:
		if ind.kind == gaugeKind {
			p.ingestSamples(ind, m.Gauge().DataPoints(), mh, res, tick)
			return
		}
		ind.stats.points[unsupported] += int64(m.Gauge().DataPoints().Len())
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		if ind.kind == quantileKind && h.AggregationTemporality() != pmetric.AggregationTemporalityUnspecified {
			p.ingestExplicit(ind, h.DataPoints(), h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative, mh, res, tick)
			return
		}
		ind.stats.points[unsupported] += int64(h.DataPoints().Len())
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		if ind.kind == quantileKind && h.AggregationTemporality() != pmetric.AggregationTemporalityUnspecified {
			p.ingestExpo(ind, h.DataPoints(), h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative, mh, res, tick)
			return
		}
		ind.stats.points[unsupported] += int64(h.DataPoints().Len())
	case pmetric.MetricTypeSummary:
		ind.stats.points[unsupported] += int64(m.Summary().DataPoints().Len())
	}
}

func numberValue(dp pmetric.NumberDataPoint) (float64, bool) {
	if dp.Flags().NoRecordedValue() {
		return 0, false
	}
	var v float64
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		v = float64(dp.IntValue())
	} else {
		v = dp.DoubleValue()
	}
	return v, !math.IsNaN(v) && !math.IsInf(v, 0)
}

func (p *sliProcessor) ingestSums(ind *indicator, r role, dps pmetric.NumberDataPointSlice, cumulative bool, mh uint64, res pcommon.Map, tick int64) {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		s, g := p.lookup(ind, mh, dp.Attributes(), res, dp.Timestamp(), tick)
		if s == nil {
			continue
		}
		v, ok := numberValue(dp)
		if !ok || v < 0 { // a monotonic sum never goes below zero
			ind.stats.points[invalidValue]++
			continue
		}
		d, reset := s.sumDelta(dp.StartTimestamp(), dp.Timestamp(), v, cumulative, p.since)
		if reset {
			ind.stats.resets++
		}
		ind.accept(s, g, tick)
		if r&roleBad != 0 {
			g.pending[0] += d
		}
		if r&roleTotal != 0 {
			g.pending[1] += d
		}
	}
}

func (p *sliProcessor) ingestSamples(ind *indicator, dps pmetric.NumberDataPointSlice, mh uint64, res pcommon.Map, tick int64) {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		s, g := p.lookup(ind, mh, dp.Attributes(), res, dp.Timestamp(), tick)
		if s == nil {
			continue
		}
		v, ok := numberValue(dp)
		if !ok {
			ind.stats.points[invalidValue]++
			continue
		}
		s.has, s.ts = true, dp.Timestamp()
		ind.accept(s, g, tick)
		switch pv := g.pending; ind.ring {
		case window.Sum: // avg: sum and count
			pv[0] += v
			pv[1]++
		case window.Max:
			pv[0] = max(pv[0], v)
		case window.Min:
			pv[0] = min(pv[0], v)
		}
	}
}

func (p *sliProcessor) ingestExplicit(ind *indicator, dps pmetric.HistogramDataPointSlice, cumulative bool, mh uint64, res pcommon.Map, tick int64) {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		s, g := p.lookup(ind, mh, dp.Attributes(), res, dp.Timestamp(), tick)
		if s == nil {
			continue
		}
		bounds, counts := dp.ExplicitBounds(), dp.BucketCounts()
		if bounds.Len() == 0 || counts.Len() != bounds.Len()+1 {
			// Without buckets there is no quantile to compute.
			ind.stats.points[unsupported]++
			continue
		}
		switch g.hist.kind {
		case histNone:
			if !increasing(bounds) {
				ind.stats.points[invalidValue]++
				continue
			}
			ind.setExplicit(g, bounds.AsRaw())
		case histExplicit:
			if !sameBounds(g.hist.bounds, bounds) {
				ind.stats.points[layoutMismatch]++
				continue
			}
		default:
			ind.stats.points[layoutMismatch]++
			continue
		}
		d := p.scratchOf(counts.Len())
		if s.explicitDelta(dp, cumulative, p.since, d) {
			ind.stats.resets++
		}
		for k, v := range d {
			g.pending[k] += v
		}
		ind.accept(s, g, tick)
	}
}

func (p *sliProcessor) ingestExpo(ind *indicator, dps pmetric.ExponentialHistogramDataPointSlice, cumulative bool, mh uint64, res pcommon.Map, tick int64) {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		s, g := p.lookup(ind, mh, dp.Attributes(), res, dp.Timestamp(), tick)
		if s == nil {
			continue
		}
		if scale := dp.Scale(); scale < histo.MinScale || scale > histo.MaxScale {
			ind.stats.points[invalidValue]++
			continue
		}
		if hasCounts(dp.Negative().BucketCounts()) {
			// Negative observations have no place in latencies and sizes.
			ind.stats.points[unsupported]++
			continue
		}
		switch g.hist.kind {
		case histNone:
			ind.setExpo(g, dp.Scale())
		case histExpo:
		default:
			ind.stats.points[layoutMismatch]++
			continue
		}
		pos := dp.Positive()
		d := p.scratchOf(pos.BucketCounts().Len())
		dz, reset := s.expoDelta(dp, cumulative, p.since, d)
		if reset {
			ind.stats.resets++
		}
		ind.addExpo(g, dp.Scale(), pos.Offset(), d, dz)
		ind.accept(s, g, tick)
	}
}

// increasing reports finite, strictly increasing bounds, as the data
// model requires; anything else cannot be interpolated.
func increasing(bounds pcommon.Float64Slice) bool {
	prev := math.Inf(-1)
	for i := 0; i < bounds.Len(); i++ {
		b := bounds.At(i)
		if math.IsNaN(b) || math.IsInf(b, 0) || b <= prev {
			return false
		}
		prev = b
	}
	return true
}

func hasCounts(bc pcommon.UInt64Slice) bool {
	for i := 0; i < bc.Len(); i++ {
		if bc.At(i) != 0 {
			return true
		}
	}
	return false
}

// accept counts a point taken into its group.
func (ind *indicator) accept(s *stream, g *group, tick int64) {
	ind.stats.points[accepted]++
	s.seen, g.seen = tick, tick
}

// scratchOf returns a reused buffer of n values.
func (p *sliProcessor) scratchOf(n int) []float64 {
	if cap(p.scratch) < n {
		p.scratch = make([]float64, n)
	}
	return p.scratch[:n]
}

// lookup finds the stream of a point and its group, creating them on
// first sight. It returns nil for points the indicator does not take:
// filtered by where (silently), missing a group_by attribute, over a bound
// or not newer than the stream's previous point (counted).
func (p *sliProcessor) lookup(ind *indicator, mh uint64, attrs, res pcommon.Map, ts pcommon.Timestamp, tick int64) (*stream, *group) {
	key := combine(mh, p.hash.attrs(attrs))
	if si, ok := ind.streams[key]; ok {
		s := &ind.streamSlab[si]
		switch s.state {
		case streamOK:
			// A new stream has no previous point: only known ones need the check.
			if out := s.order(ts); out != accepted {
				ind.stats.points[out]++
				return nil, nil
			}
			return s, ind.groupSlab[s.group]
		case streamMissing:
			ind.stats.points[missingAttribute]++
		}
		s.seen = tick // keep the verdict cached while the stream lives
		return nil, nil
	}
	return p.newStream(ind, key, attrs, res, tick)
}

func (p *sliProcessor) newStream(ind *indicator, key uint64, attrs, res pcommon.Map, tick int64) (*stream, *group) {
	state := streamOK
	if !ind.passes(attrs, res) {
		state = streamFiltered
	} else if !p.groupKey(ind, attrs, res) {
		state = streamMissing
		ind.stats.points[missingAttribute]++
	}
	if p.streams >= p.maxStreams {
		if state == streamOK {
			p.overflowStreams++
		}
		return nil, nil
	}
	gi := int32(-1)
	if state == streamOK {
		var ok bool
		if gi, ok = ind.groups[string(p.keyBuf)]; !ok {
			if p.series >= p.maxSeries {
				p.overflowSeries++
				return nil, nil
			}
			gi = p.newGroup(ind, attrs, res, tick)
		}
	}
	var si int32
	if n := len(ind.freeStreams); n > 0 {
		si = ind.freeStreams[n-1]
		ind.freeStreams = ind.freeStreams[:n-1]
	} else {
		ind.streamSlab = append(ind.streamSlab, stream{})
		si = int32(len(ind.streamSlab) - 1)
	}
	ind.streamSlab[si] = stream{key: key, group: gi, state: state, seen: tick}
	ind.streams[key] = si
	p.streams++
	if state != streamOK {
		return nil, nil
	}
	return &ind.streamSlab[si], ind.groupSlab[gi]
}

// lookupAttr finds an attribute on the point, then on the resource.
func lookupAttr(key string, attrs, res pcommon.Map) (pcommon.Value, bool) {
	if v, ok := attrs.Get(key); ok {
		return v, true
	}
	return res.Get(key)
}

// passes applies where: a point that carries the attribute must match
// it; one that lacks it passes, so that a ratio's metrics without the
// attribute (drops without a direction) still count.
func (ind *indicator) passes(attrs, res pcommon.Map) bool {
	for k, want := range ind.where {
		if v, ok := lookupAttr(k, attrs, res); ok && v.AsString() != want {
			return false
		}
	}
	return true
}

// groupKey writes the group_by values into p.keyBuf; false when one is
// missing.
func (p *sliProcessor) groupKey(ind *indicator, attrs, res pcommon.Map) bool {
	b := p.keyBuf[:0]
	for _, k := range ind.groupBy {
		v, ok := lookupAttr(k, attrs, res)
		if !ok {
			return false
		}
		s := v.AsString()
		b = append(b, byte(v.Type()))
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	p.keyBuf = b
	return true
}

func (p *sliProcessor) newGroup(ind *indicator, attrs, res pcommon.Map, tick int64) int32 {
	g := &group{
		key:      string(p.keyBuf),
		attrs:    make([]action.Attribute, 0, len(ind.groupBy)),
		typed:    pcommon.NewMap(),
		first:    tick,
		seen:     tick,
		machines: make([]trigger.Machine, len(ind.triggers)),
		alerting: make([]bool, ind.alertCount()),
	}
	g.typed.EnsureCapacity(len(ind.groupBy))
	for _, k := range ind.groupBy {
		v, _ := lookupAttr(k, attrs, res)
		v.CopyTo(g.typed.PutEmpty(k))
		g.attrs = append(g.attrs, action.Attribute{Key: k, Value: v.AsString()})
	}
	if ind.kind != quantileKind { // histogram groups learn their width from the first point
		ind.allocRings(g, ind.dim)
	}
	var gi int32
	if n := len(ind.freeGroups); n > 0 {
		gi = ind.freeGroups[n-1]
		ind.freeGroups = ind.freeGroups[:n-1]
		ind.groupSlab[gi] = g
	} else {
		ind.groupSlab = append(ind.groupSlab, g)
		gi = int32(len(ind.groupSlab) - 1)
	}
	ind.groups[g.key] = gi
	p.series++
	return gi
}
