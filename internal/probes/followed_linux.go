//go:build linux

package probes

import (
	"errors"
	"fmt"
)

// CheckFollowed counts the trace group's followed skbs two ways, the
// entries of trace_skbs and the sum of trace_slots (the per-slot counts
// every free checks before it looks an skb up), and fails unless they
// agree: a slot counted once too often never returns to zero. Call it with
// no traffic in flight.
func (s *Set) CheckFollowed() error {
	g := s.Group(Trace)
	if g == nil {
		return errors.New("trace group not attached")
	}
	entries, counted, err := g.followed()
	if err != nil {
		return err
	}
	if entries != counted {
		return fmt.Errorf("trace_skbs holds %d followed skbs, trace_slots counts %d", entries, counted)
	}
	return nil
}

func (g *Group) followed() (entries, counted uint64, err error) {
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
