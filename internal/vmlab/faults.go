package vmlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SetTxQueueLen sets the host tap's txqueuelen. tun sizes each queue's ring
// from it when the queue attaches and resizes the ring on a change, so this
// is the ring's capacity in frames.
func (vm *VM) SetTxQueueLen(n int) error {
	tap, err := netlink.LinkByName(vm.HostTap)
	if err != nil {
		return fmt.Errorf("txqueuelen %s: %w", vm.HostTap, err)
	}
	if err := netlink.LinkSetTxQLen(tap, n); err != nil {
		return fmt.Errorf("txqueuelen %s = %d: %w", vm.HostTap, n, err)
	}
	return nil
}

// TxQueueLen reads the host tap's txqueuelen.
func (vm *VM) TxQueueLen() (int, error) {
	tap, err := netlink.LinkByName(vm.HostTap)
	if err != nil {
		return 0, fmt.Errorf("txqueuelen %s: %w", vm.HostTap, err)
	}
	return tap.Attrs().TxQLen, nil
}

// TBF shapes a device's egress with a token bucket.
type TBF struct {
	Rate  uint64 // bytes per second
	Burst uint32 // bucket size in bytes; at least one frame (1514)
	Limit uint32 // bytes queued waiting for tokens before tbf drops
}

// SetClientTBF installs (or replaces) tbf as the client veth's root qdisc.
func (l *Lab) SetClientTBF(t TBF) error {
	return setTBF(l.clientNL, l.ClientDev, t)
}

// SetTapTBF installs (or replaces) tbf as the host tap's root qdisc: packets
// to the VM wait in it for tokens, and leave from the qdisc watchdog's
// softirq rather than the one that received them.
func (vm *VM) SetTapTBF(t TBF) error {
	return setTBF(rootNL, vm.HostTap, t)
}

func setTBF(h *netlink.Handle, dev string, t TBF) error {
	link, err := h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("tbf on %s: %w", dev, err)
	}
	q := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: link.Attrs().Index,
			Handle:    netlink.MakeHandle(1, 0),
			Parent:    netlink.HANDLE_ROOT,
		},
		Rate:   t.Rate,
		Limit:  t.Limit,
		Buffer: netlink.Xmittime(t.Rate, t.Burst),
	}
	if err := h.QdiscReplace(q); err != nil {
		return fmt.Errorf("tbf on %s: %w", dev, err)
	}
	return nil
}

// ClearClientTBF puts the client veth back on its default qdisc.
func (l *Lab) ClearClientTBF() error {
	cl, err := l.clientNL.LinkByName(l.ClientDev)
	if err != nil {
		return fmt.Errorf("clear tbf on %s: %w", l.ClientDev, err)
	}
	q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: cl.Attrs().Index, Parent: netlink.HANDLE_ROOT}}
	if err := l.clientNL.QdiscDel(q); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("clear tbf on %s: %w", l.ClientDev, err)
	}
	return nil
}

// QdiscStats are a root qdisc's counters.
type QdiscStats struct {
	Kind       string
	Packets    uint32
	Bytes      uint64
	Drops      uint32
	Overlimits uint32
	Backlog    uint32 // bytes queued now
	Qlen       uint32 // packets queued now
}

// ClientQdiscStats reads the client veth's root qdisc counters.
func (l *Lab) ClientQdiscStats() (QdiscStats, error) {
	cl, err := l.clientNL.LinkByName(l.ClientDev)
	if err != nil {
		return QdiscStats{}, fmt.Errorf("qdisc stats of %s: %w", l.ClientDev, err)
	}
	qs, err := l.clientNL.QdiscList(cl)
	if err != nil {
		return QdiscStats{}, fmt.Errorf("qdisc stats of %s: %w", l.ClientDev, err)
	}
	for _, q := range qs {
		a := q.Attrs()
		if a.Parent != netlink.HANDLE_ROOT || a.Statistics == nil {
			continue
		}
		s := a.Statistics
		return QdiscStats{
			Kind: q.Type(), Packets: s.Basic.Packets, Bytes: s.Basic.Bytes,
			Drops: s.Queue.Drops, Overlimits: s.Queue.Overlimits,
			Backlog: s.Queue.Backlog, Qlen: s.Queue.Qlen,
		}, nil
	}
	return QdiscStats{}, fmt.Errorf("qdisc stats of %s: no root qdisc", l.ClientDev)
}

// SpreadClientRx turns on RPS on the host side of the client's veth, over
// every CPU: the bridge then handles the client's packets in a NET_RX
// softirq that an IPI raises on the flow's CPU, on the way out of whatever
// interrupt it hits there, a BPF program in process context included.
func (l *Lab) SpreadClientRx() error {
	path := "/sys/class/net/" + l.HostVeth + "/queues/rx-0/rps_cpus"
	if err := os.WriteFile(path, []byte(allCPUs(runtime.NumCPU())), 0); err != nil {
		return fmt.Errorf("rps on %s: %w", l.HostVeth, err)
	}
	return nil
}

// allCPUs is the cpumask of CPUs 0..n-1 as sysfs reads it: hex groups of
// 32 bits, the highest first, separated by commas.
func allCPUs(n int) string {
	var groups []string
	for left := n; left > 0; left -= 32 {
		groups = append([]string{fmt.Sprintf("%x", uint64(1)<<min(left, 32)-1)}, groups...)
	}
	return strings.Join(groups, ",")
}

// FreeInProcessContext keeps every CPU freeing skbs with kfree_skb in
// process context, interrupts enabled, until ctx ends: unix socket pairs
// closed with datagrams unread. A BPF program on kfree_skb then often runs
// when an interrupt arrives, and the kernel skips it for the drops of the
// softirq that follows (its recursion_misses). The returned function waits
// for the goroutines and reports their errors.
func FreeInProcessContext(ctx context.Context) (wait func() error) {
	var wg sync.WaitGroup
	errs := make([]error, runtime.NumCPU())
	for i := range errs {
		wg.Go(func() { errs[i] = freeLoop(ctx) })
	}
	return func() error {
		wg.Wait()
		return errors.Join(errs...)
	}
}

func freeLoop(ctx context.Context) error {
	msg := make([]byte, 1)
	for ctx.Err() == nil {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socketpair: %w", err)
		}
		for range 256 {
			if _, err := unix.Write(fds[0], msg); err != nil {
				break
			}
		}
		_ = unix.Close(fds[0])
		_ = unix.Close(fds[1]) // frees the unread datagrams
	}
	return nil
}
