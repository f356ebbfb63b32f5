package sliprocessor

import (
	"hash/maphash"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// hasher identifies input streams by a 64-bit hash of their resource,
// scope, metric name and attributes. Attributes are combined by addition,
// so their order does not matter. Two streams of one indicator colliding
// (about n^2/2^65 for n streams: 3e-12 at 10 000) would share delta state.
type hasher struct{ seed maphash.Seed }

func newHasher() hasher { return hasher{seed: maphash.MakeSeed()} }

// fmix is murmur3's 64-bit finalizer: it spreads every input bit over the
// output, so sums of mixed pairs do not cancel.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (x hasher) str(s string) uint64 { return maphash.String(x.seed, s) }

// combine chains an ordered part (resource -> scope -> metric) onto h.
func combine(h, part uint64) uint64 { return fmix(h*0x9e3779b97f4a7c15 ^ part) }

func (x hasher) value(v pcommon.Value) uint64 {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return x.str(v.Str())
	case pcommon.ValueTypeInt:
		return fmix(uint64(v.Int()) ^ 0x1)
	case pcommon.ValueTypeDouble:
		return fmix(math.Float64bits(v.Double()) ^ 0x2)
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return 0x3
		}
		return 0x4
	case pcommon.ValueTypeEmpty:
		return 0x5
	default:
		// Bytes, slices and maps are rare as metric attributes; their
		// string form costs an allocation.
		return x.str(v.AsString()) ^ 0x6
	}
}

// attrs hashes a map independently of its order.
func (x hasher) attrs(m pcommon.Map) uint64 {
	var sum uint64
	for k, v := range m.All() {
		sum += fmix(x.str(k)*0x9e3779b97f4a7c15 ^ x.value(v))
	}
	return sum
}
