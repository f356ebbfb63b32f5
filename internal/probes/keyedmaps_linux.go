//go:build linux

package probes

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// KeyedMaps keeps kernel maps keyed by an entity (a device, a thread) in
// step with the set of entities user space found: every entry map holds
// one entry per entity, starting from its zero value, and every filter map
// holds the entities' ID bits.
type KeyedMaps[K comparable] struct {
	// Entries maps each keyed map to the value a new entity's entry starts with.
	Entries map[*ebpf.Map]any
	// Filters are single-slot IDFilter maps.
	Filters []*ebpf.Map
	// ID is what a filter holds for a key: an ifindex, a TID.
	ID   func(K) uint32
	have map[K]bool
}

// Sync makes the maps hold exactly want. New entries go in before the
// filters change and old ones go after, so an event that passes a filter
// always finds its entity's entry. A full map is reported with E2BIG
// underneath.
func (d *KeyedMaps[K]) Sync(want map[K]bool) error {
	var errs []error
	for k := range want {
		if d.have[k] {
			continue
		}
		for m, zero := range d.Entries {
			if err := m.Update(k, zero, ebpf.UpdateNoExist); err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
				errs = append(errs, fmt.Errorf("insert into %s: %w", m, err))
			}
		}
	}
	var f IDFilter
	for k := range want {
		f.Set(d.ID(k))
	}
	for _, m := range d.Filters {
		if err := m.Put(uint32(0), f); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", m, err))
		}
	}
	for k := range d.have {
		if want[k] {
			continue
		}
		for m := range d.Entries {
			_ = m.Delete(k)
		}
	}
	d.have = want
	return errors.Join(errs...)
}

// Has reports whether the maps hold key.
func (d *KeyedMaps[K]) Has(key K) bool { return d.have[key] }
