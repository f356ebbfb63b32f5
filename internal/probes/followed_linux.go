//go:build linux

package probes

import "fmt"

// Followed counts the trace group's followed skbs two ways: the entries of
// trace_skbs, and the sum of trace_slots, the per-slot counts every free
// checks before it looks an skb up. They must agree: a slot counted once
// too often never returns to zero. Read it with no traffic in flight.
func (g *Group) Followed() (entries, counted uint64, err error) {
	skbs, slots := g.Map("trace_skbs"), g.Map("trace_slots")
	if skbs == nil || slots == nil {
		return 0, 0, fmt.Errorf("group %s has no trace_skbs and trace_slots", g.name)
	}
	var addr uint64
	value := make([]byte, skbs.ValueSize())
	it := skbs.Iterate()
	for it.Next(&addr, value) {
		entries++
	}
	if err := it.Err(); err != nil {
		return 0, 0, fmt.Errorf("iterate trace_skbs: %w", err)
	}
	var slot, count uint32
	it = slots.Iterate()
	for it.Next(&slot, &count) {
		counted += uint64(count)
	}
	if err := it.Err(); err != nil {
		return 0, 0, fmt.Errorf("iterate trace_slots: %w", err)
	}
	return entries, counted, nil
}
