// Package kmetrics turns kernel map contents into OTLP metrics: cumulative
// series that stay monotonic while the kernel entries behind them come and
// go, histograms from the probes' base-2 slots, and a circuit breaker for
// failing map reads.
package kmetrics // import "github.com/vnetpath/vnetpath/internal/kmetrics"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Cumulative keeps the exported cumulative series of one metric. A series
// (one attribute set) may be fed by several kernel map entries over its
// life, e.g. a tap recreated under the same name by the same VMM: the
// values of entries that went away stay in a baseline, so the series never
// decreases. A series that no entry fed during a whole collection has
// ended; if it comes back it restarts from zero with a new start time.
type Cumulative[S, A comparable] struct {
	series map[A]*series[S]
	// lastCollect is the previous collection's time: the earliest a series
	// first seen now can have started counting.
	lastCollect pcommon.Timestamp
}

type series[S comparable] struct {
	start   pcommon.Timestamp
	base    []uint64
	sources map[S]*source
}

// source is one kernel map entry feeding a series.
type source struct {
	values []uint64
	read   bool // read in the current collection
}

// NewCumulative starts a store whose series count from loaded.
func NewCumulative[S, A comparable](loaded pcommon.Timestamp) *Cumulative[S, A] {
	return &Cumulative[S, A]{series: map[A]*series[S]{}, lastCollect: loaded}
}

// Add feeds one kernel entry's current values into the series of attrs:
// one value for a counter, one per bucket for a histogram.
func (c *Cumulative[S, A]) Add(src S, attrs A, values ...uint64) {
	s := c.series[attrs]
	if s == nil {
		s = &series[S]{start: c.lastCollect, base: make([]uint64, len(values)), sources: map[S]*source{}}
		c.series[attrs] = s
	}
	in := s.sources[src]
	if in == nil {
		in = &source{}
		s.sources[src] = in
	} else if decreased(values, in.values) {
		// The entry restarted from zero between two reads.
		addTo(s.base, in.values)
	}
	in.values = append(in.values[:0], values...)
	in.read = true
}

// Collect ends a collection: entries not read this time went away and are
// folded into their series' baselines; series no entry fed are forgotten;
// emit gets every other series with its total.
func (c *Cumulative[S, A]) Collect(now pcommon.Timestamp, emit func(attrs A, start pcommon.Timestamp, values []uint64)) {
	for key, s := range c.series {
		fed := false
		for src, in := range s.sources {
			if !in.read {
				addTo(s.base, in.values)
				delete(s.sources, src)
				continue
			}
			fed = true
		}
		if !fed {
			delete(c.series, key)
			continue
		}
		total := append([]uint64(nil), s.base...)
		for _, in := range s.sources {
			addTo(total, in.values)
			in.read = false
		}
		emit(key, s.start, total)
	}
	c.lastCollect = now
}

func decreased(now, before []uint64) bool {
	for i := range now {
		if i < len(before) && now[i] < before[i] {
			return true
		}
	}
	return false
}

func addTo(dst, v []uint64) {
	for i := range dst {
		if i < len(v) {
			dst[i] += v[i]
		}
	}
}
