//go:build linux

package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"fmt"

	"github.com/cilium/ebpf"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/vnetpath/vnetpath/internal/kbtf"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// softirqReader reads the per-CPU softirq counters, one slot per vector.
type softirqReader struct {
	counts  *ebpf.Map
	vectors []string
	perCPU  []uint64
}

func newSoftirqReader(g *probes.Group, src kbtf.Source) (*softirqReader, error) {
	names, err := src.SoftirqVectors()
	if err != nil {
		return nil, fmt.Errorf("name softirq vectors: %w", err)
	}
	counts := g.Map("softirq_counts")
	vectors := make([]string, counts.MaxEntries())
	for i := range vectors {
		vectors[i] = names.Name(uint64(i))
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("count CPUs: %w", err)
	}
	return &softirqReader{counts: counts, vectors: vectors, perCPU: make([]uint64, ncpu)}, nil
}

func (r *softirqReader) read(mb *metadata.MetricsBuilder, now pcommon.Timestamp) error {
	for vec, name := range r.vectors {
		if err := r.counts.Lookup(uint32(vec), &r.perCPU); err != nil {
			return fmt.Errorf("read softirq_counts[%s]: %w", name, err)
		}
		for cpu, n := range r.perCPU {
			// A CPU that never ran a vector has no series yet.
			if n > 0 {
				mb.RecordVnetSoftirqCountDataPoint(now, int64(n), int64(cpu), name)
			}
		}
	}
	return nil
}
