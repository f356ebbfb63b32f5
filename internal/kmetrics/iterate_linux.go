//go:build linux

package kmetrics // import "github.com/vnetpath/vnetpath/internal/kmetrics"

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// Iterate walks a per-CPU hash map; fn gets each key and its per-CPU values.
func Iterate[K any, V any](m *ebpf.Map, fn func(K, []V)) error {
	var k K
	var v []V
	it := m.Iterate()
	for it.Next(&k, &v) {
		fn(k, v)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iterate %s: %w", m, err)
	}
	return nil
}

// Sum adds per-CPU counters.
func Sum(v []uint64) uint64 {
	var t uint64
	for _, x := range v {
		t += x
	}
	return t
}
