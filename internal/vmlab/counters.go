package vmlab

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// LinkStats are a device's counters as the kernel keeps them (rtnl stats64).
// On a tap, tx is toward the VMM (tun_net_xmit, tx_dropped counts its drops)
// and rx is what the VMM wrote.
type LinkStats struct {
	RxPackets, RxBytes, RxDropped, RxErrors uint64
	TxPackets, TxBytes, TxDropped, TxErrors uint64
}

// Sub returns s - o, the change since o.
func (s LinkStats) Sub(o LinkStats) LinkStats {
	return LinkStats{
		RxPackets: s.RxPackets - o.RxPackets, RxBytes: s.RxBytes - o.RxBytes,
		RxDropped: s.RxDropped - o.RxDropped, RxErrors: s.RxErrors - o.RxErrors,
		TxPackets: s.TxPackets - o.TxPackets, TxBytes: s.TxBytes - o.TxBytes,
		TxDropped: s.TxDropped - o.TxDropped, TxErrors: s.TxErrors - o.TxErrors,
	}
}

func linkStats(byName func(string) (netlink.Link, error), name string) (LinkStats, error) {
	link, err := byName(name)
	if err != nil {
		return LinkStats{}, fmt.Errorf("stats of %s: %w", name, err)
	}
	s := link.Attrs().Statistics
	if s == nil {
		return LinkStats{}, fmt.Errorf("stats of %s: kernel sent none", name)
	}
	return LinkStats{
		RxPackets: s.RxPackets, RxBytes: s.RxBytes, RxDropped: s.RxDropped, RxErrors: s.RxErrors,
		TxPackets: s.TxPackets, TxBytes: s.TxBytes, TxDropped: s.TxDropped, TxErrors: s.TxErrors,
	}, nil
}

// HostTapStats reads the host tap's counters (root netns).
func (vm *VM) HostTapStats() (LinkStats, error) { return linkStats(netlink.LinkByName, vm.HostTap) }

// GuestDevStats reads the guest NIC's counters (VM netns).
func (vm *VM) GuestDevStats() (LinkStats, error) {
	if vm.External {
		return LinkStats{}, fmt.Errorf("vm %s: guest NIC of an external VMM is out of reach", vm.Name)
	}
	return linkStats(vm.nl.LinkByName, vm.GuestDev)
}

// ClientDevStats reads the client veth's counters (client netns).
func (l *Lab) ClientDevStats() (LinkStats, error) {
	return linkStats(l.clientNL.LinkByName, l.ClientDev)
}

// HostVethStats reads the bridge side of the client veth (root netns).
func (l *Lab) HostVethStats() (LinkStats, error) { return linkStats(netlink.LinkByName, l.HostVeth) }

// BridgeStats reads the bridge device's own counters (root netns): rx is
// what the bridge passed up to the host, tx what the host sent through it.
func (l *Lab) BridgeStats() (LinkStats, error) { return linkStats(netlink.LinkByName, l.Bridge) }

// VMCounters is a VM's ground truth at one instant.
type VMCounters struct {
	VMM      vmmctl.Stats
	HostTap  LinkStats
	GuestDev LinkStats
}

// Sub returns the change since o; gauges (paused, worker TID...) keep c's value.
func (c VMCounters) Sub(o VMCounters) VMCounters {
	d := c
	d.VMM.ToGuest = c.VMM.ToGuest.Sub(o.VMM.ToGuest)
	d.VMM.FromGuest = c.VMM.FromGuest.Sub(o.VMM.FromGuest)
	d.VMM.SIGUSR1 = c.VMM.SIGUSR1 - o.VMM.SIGUSR1
	d.HostTap = c.HostTap.Sub(o.HostTap)
	d.GuestDev = c.GuestDev.Sub(o.GuestDev)
	return d
}

// Counters reads the VM's VMM counters and both taps' device counters.
func (vm *VM) Counters() (VMCounters, error) {
	var c VMCounters
	var err error
	if vm.External {
		return c, fmt.Errorf("vm %s: an external VMM has no lab counters", vm.Name)
	}
	if c.VMM, err = vm.Control.Stats(); err != nil {
		return c, err
	}
	if c.HostTap, err = vm.HostTapStats(); err != nil {
		return c, err
	}
	c.GuestDev, err = vm.GuestDevStats()
	return c, err
}

// Snapshot is the whole lab's ground truth at one instant.
type Snapshot struct {
	ClientDev LinkStats
	HostVeth  LinkStats
	VMs       []VMCounters
}

// Snapshot reads every counter of the lab.
func (l *Lab) Snapshot() (Snapshot, error) {
	var s Snapshot
	var err error
	if s.ClientDev, err = l.ClientDevStats(); err != nil {
		return s, err
	}
	if s.HostVeth, err = l.HostVethStats(); err != nil {
		return s, err
	}
	for _, vm := range l.vms {
		c, err := vm.Counters()
		if err != nil {
			return s, err
		}
		s.VMs = append(s.VMs, c)
	}
	return s, nil
}

// Sub returns the change since o (same lab).
func (s Snapshot) Sub(o Snapshot) Snapshot {
	d := Snapshot{ClientDev: s.ClientDev.Sub(o.ClientDev), HostVeth: s.HostVeth.Sub(o.HostVeth)}
	for i := range s.VMs {
		d.VMs = append(d.VMs, s.VMs[i].Sub(o.VMs[i]))
	}
	return d
}

func (s Snapshot) equal(o Snapshot) bool {
	return s.ClientDev == o.ClientDev && s.HostVeth == o.HostVeth && slices.Equal(s.VMs, o.VMs)
}

// Settle waits until no counter of the lab has moved for quiet (frames still
// in a ring, in the VMM or in a TCP teardown have landed) and returns that
// snapshot.
func (l *Lab) Settle(ctx context.Context, quiet time.Duration) (Snapshot, error) {
	last, err := l.Snapshot()
	if err != nil {
		return last, err
	}
	since := time.Now()
	for time.Since(since) < quiet {
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("settle: %w", ctx.Err())
		case <-time.After(quiet / 10):
		}
		s, err := l.Snapshot()
		if err != nil {
			return s, err
		}
		if !s.equal(last) {
			last, since = s, time.Now()
		}
	}
	return last, nil
}
