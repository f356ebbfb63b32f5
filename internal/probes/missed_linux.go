//go:build linux

package probes

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Missed counts the events of its hook an attached program did not run for.
type Missed struct {
	Group, Program string
	Events         uint64
}

// Missed reports every attached program's missed events: those the kernel
// skipped it for because it was already running on that CPU (its
// recursion_misses), less those its twin ran its body for. Twins are not
// listed: an event a twin is skipped for, its primary ran for. The kernel's
// count takes in events the program would have ignored, and each skip of a
// twin can leave the figure off by one (bpf/vnet.h, struct vnet_nest).
func (s *Set) Missed() ([]Missed, error) {
	var out []Missed
	var errs []error
	for _, g := range s.groups {
		for _, name := range g.attached {
			if isTwin(name) {
				continue
			}
			n, err := g.missed(name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, Missed{Group: g.name, Program: name, Events: n})
		}
	}
	slices.SortFunc(out, func(a, b Missed) int {
		return strings.Compare(a.Group+"/"+a.Program, b.Group+"/"+b.Program)
	})
	return out, errors.Join(errs...)
}

func (g *Group) missed(name string) (uint64, error) {
	st, err := g.coll.Programs[name].Stats()
	if err != nil {
		return 0, fmt.Errorf("stats of %s: %w", name, err)
	}
	if !slices.Contains(g.attached, name+nestedSuffix) {
		return st.RecursionMisses, nil
	}
	recovered, err := g.recovered(name)
	if err != nil {
		return 0, err
	}
	// Read after the misses: a twin's later recoveries can only lower it.
	return st.RecursionMisses - min(recovered, st.RecursionMisses), nil
}

// recovered sums, over CPUs, the events a primary's twin ran for.
func (g *Group) recovered(primary string) (uint64, error) {
	m := g.Map(primary + "_nest")
	if m == nil {
		return 0, fmt.Errorf("group %s has no %s_nest map", g.name, primary)
	}
	var perCPU []Nest
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		return 0, fmt.Errorf("read %s_nest: %w", primary, err)
	}
	var n uint64
	for _, c := range perCPU {
		n += c.Recovered
	}
	return n, nil
}
