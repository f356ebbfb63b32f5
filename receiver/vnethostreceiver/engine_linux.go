//go:build linux

package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/discovery"
	"github.com/vnetpath/vnetpath/internal/kmetrics"
	"github.com/vnetpath/vnetpath/internal/netdev"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// engine keeps the kernel maps in step with the host: which devices are
// VM-facing, which threads are VM workers, which VMM owns what. One
// goroutine owns this state; readers see it through published attributions.
type engine struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	set       *probes.Set
	watcher   *netdev.Watcher
	scanner   discovery.Scanner
	ncpu      int

	current atomic.Pointer[attribution]

	// Owned by the refresh goroutine (and by start before it runs).
	devices *probes.KeyedMaps[probes.DevKey]
	workers *probes.KeyedMaps[uint32]
	vms     map[int]discovery.VM
	watched map[uint32]bool // namespaces whose device lists are complete

	done chan struct{}
	wg   sync.WaitGroup
}

func newEngine(cfg *Config, logger *zap.Logger, tb *metadata.TelemetryBuilder, set *probes.Set) (*engine, error) {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("count CPUs: %w", err)
	}
	// The collector's own namespace first: macvtap attribution relies on it.
	w, err := netdev.Open(append([]string{""}, cfg.NetNS...))
	if err != nil {
		return nil, err
	}
	e := &engine{
		cfg: cfg, logger: logger, telemetry: tb, set: set, watcher: w, ncpu: ncpu,
		scanner: discovery.Scanner{Proc: "/proc", WorkerGlobs: cfg.Workers.Threads},
		vms:     map[int]discovery.VM{},
		watched: map[uint32]bool{}, done: make(chan struct{}),
	}
	for _, ns := range w.Namespaces() {
		e.watched[ns] = true
	}
	e.devices = e.deviceMaps()
	e.workers = e.workerMaps()
	e.current.Store(&attribution{})
	return e, nil
}

// start refreshes once, so the first collection is attributed, then keeps
// refreshing on the discovery interval and on link changes.
func (e *engine) start(ctx context.Context) {
	e.refresh(ctx)
	e.wg.Add(1)
	go e.loop()
}

func (e *engine) loop() {
	defer e.wg.Done()
	ctx := context.Background()
	tick := time.NewTicker(e.cfg.Discovery.Interval)
	defer tick.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-tick.C:
		case <-e.watcher.Changes():
			// A VM start creates its tap, then opens it: let the burst settle.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-e.done:
				return
			}
		}
		e.refresh(ctx)
	}
}

func (e *engine) stop() {
	close(e.done)
	e.wg.Wait()
	_ = e.watcher.Close()
}

// attribution returns the latest published attribution.
func (e *engine) attribution() *attribution { return e.current.Load() }

func (e *engine) refresh(ctx context.Context) {
	devs, listErr := e.watcher.List()
	vms, stats, scanErr := e.scanner.Scan()
	if err := errors.Join(listErr, e.watcher.Err(), scanErr); err != nil {
		e.telemetry.VnetHostDiscoveryErrors.Add(ctx, 1)
		e.logger.Warn("Discovery refresh saw errors", zap.Error(err))
		if listErr != nil || scanErr != nil {
			return // keep the last good attribution; a subscription error alone loses nothing
		}
	}
	a := e.attribute(devs, vms)
	e.logChanges(vms)
	e.mapError(ctx, "devices", e.devices.Sync(keys(a.vmFacing)))
	e.mapError(ctx, "workers", e.workers.Sync(keys(a.workers)))
	if err := e.forgetGone(a.names, a.vmms); err != nil {
		e.logger.Warn("Removing the map entries of gone devices and VMMs failed", zap.Error(err))
	}
	e.sweepRing(ctx)
	e.current.Store(a)
	e.telemetry.VnetHostDiscoveryVms.Record(ctx, int64(len(vms)))
	e.telemetry.VnetHostDiscoveryDevices.Record(ctx, int64(len(a.vmFacing)))
	e.logger.Debug("Discovery refreshed", zap.Int("vms", len(vms)), zap.Int("vm_facing_devices", len(a.vmFacing)),
		zap.Int("workers", len(a.workers)), zap.Any("scan", stats))
}

// attribute joins devices and VMMs: a device is VM-facing when its name
// matches interfaces; it belongs to the VMM holding a tap fd of that name
// (or, for macvtap, the /dev/tap<ifindex> of a device in our namespace).
func (e *engine) attribute(devs []netdev.Device, vms []discovery.VM) *attribution {
	a := &attribution{
		vmFacing: map[probes.DevKey]devInfo{}, names: map[probes.DevKey]string{},
		workers: map[uint32]workerInfo{}, vmms: map[uint32]vmInfo{},
	}
	byTap := map[string]vmInfo{}
	byIfindex := map[uint32]vmInfo{}
	for _, vm := range vms {
		info := vmInfo{name: vm.Name, pid: int64(vm.PID)}
		a.vmms[uint32(vm.PID)] = info
		for _, t := range vm.Taps {
			byTap[t] = info
		}
		for _, i := range vm.Macvtaps {
			byIfindex[uint32(i)] = info
		}
		for _, w := range vm.Workers {
			a.workers[uint32(w.TID)] = workerInfo{name: w.Name, vm: info}
		}
	}
	filter := e.cfg.Interfaces.filter()
	own := e.watcher.Namespaces()[0]
	for _, d := range devs {
		k := probes.DevKey{NetNS: d.NetNS, Ifindex: d.Ifindex}
		a.names[k] = d.Name
		if !filter.Match(d.Name) {
			continue
		}
		vm, ok := byTap[d.Name]
		if !ok && d.NetNS == own {
			vm = byIfindex[d.Ifindex]
		}
		a.vmFacing[k] = devInfo{name: d.Name, vm: vm}
	}
	return a
}

func (e *engine) logChanges(vms []discovery.VM) {
	seen := map[int]discovery.VM{}
	for _, vm := range vms {
		seen[vm.PID] = vm
		if _, known := e.vms[vm.PID]; !known {
			e.logger.Info("VM found", zap.String("vm.name", vm.Name), zap.Int("process.pid", vm.PID),
				zap.Strings("taps", vm.Taps), zap.Int("workers", len(vm.Workers)))
		}
	}
	for pid, vm := range e.vms {
		if _, still := seen[pid]; !still {
			e.logger.Info("VM gone", zap.String("vm.name", vm.Name), zap.Int("process.pid", pid))
		}
	}
	e.vms = seen
}

// deviceMaps are the maps with one entry per VM-facing device, and the
// id filters in front of them, of the groups that run.
func (e *engine) deviceMaps() *probes.KeyedMaps[probes.DevKey] {
	d := &probes.KeyedMaps[probes.DevKey]{Entries: map[*ebpf.Map]any{}, ID: func(k probes.DevKey) uint32 { return k.Ifindex }}
	for _, x := range []struct {
		group, entries, filter string
		zero                   any
	}{
		{probes.Devices, "dev_counters", "dev_filter", make([]probes.DevCounters, e.ncpu)},
		{probes.Drops, "drop_devices", "drop_filter", uint8(1)},
		{probes.Ring, "ring_residence", "ring_filter", make([]probes.Hist, e.ncpu)},
		{probes.Trace, "trace_devices", "trace_filter", uint8(1)},
	} {
		if g := e.set.Group(x.group); g != nil {
			d.Entries[g.Map(x.entries)] = x.zero
			d.Filters = append(d.Filters, g.Map(x.filter))
		}
	}
	return d
}

// workerMaps are the workers group's maps keyed by worker TID.
func (e *engine) workerMaps() *probes.KeyedMaps[uint32] {
	d := &probes.KeyedMaps[uint32]{Entries: map[*ebpf.Map]any{}, ID: func(tid uint32) uint32 { return tid }}
	if g := e.set.Group(probes.Workers); g != nil {
		d.Entries[g.Map("workers")] = probes.Worker{}
		d.Entries[g.Map("worker_wait")] = make([]probes.Hist, e.ncpu)
		d.Entries[g.Map("worker_runtime")] = make([]probes.Hist, e.ncpu)
		d.Filters = append(d.Filters, g.Map("worker_filter"))
	}
	return d
}

// forgetGone removes kernel-inserted entries of devices that no longer exist
// in a watched namespace and of VMMs that exited.
func (e *engine) forgetGone(names map[probes.DevKey]string, vmms map[uint32]vmInfo) error {
	gone := func(k probes.DevKey) bool {
		_, exists := names[k]
		return e.watched[k.NetNS] && !exists
	}
	var errs []error
	if g := e.set.Group(probes.Drops); g != nil {
		errs = append(errs, deleteWhere[probes.DropKey, uint64](g.Map("drop_counts"), func(k probes.DropKey) bool {
			return k.Dev.Ifindex != 0 && gone(k.Dev)
		}))
	}
	if g := e.set.Group(probes.NAPI); g != nil {
		errs = append(errs, deleteWhere[probes.DevKey, probes.NAPICounters](g.Map("napi_counters"), gone))
	}
	if g := e.set.Group(probes.KVM); g != nil {
		errs = append(errs, deleteWhere[uint32, probes.KVMCounters](g.Map("kvm_counters"), func(tgid uint32) bool {
			_, vmm := vmms[tgid]
			return !vmm && !processExists(tgid)
		}))
	}
	return errors.Join(errs...)
}

func processExists(pid uint32) bool {
	_, err := os.Stat("/proc/" + strconv.FormatUint(uint64(pid), 10))
	return err == nil
}

// deleteWhere deletes the keys of a per-CPU map (values V per CPU) that
// match; keys are collected first because deleting while iterating a hash
// map restarts the walk.
func deleteWhere[K, V any](m *ebpf.Map, match func(K) bool) error {
	var doomed []K
	err := kmetrics.Iterate(m, func(k K, _ []V) {
		if match(k) {
			doomed = append(doomed, k)
		}
	})
	for _, k := range doomed {
		_ = m.Delete(k)
	}
	return err
}

// sweepRing forgets packets whose dequeue from a tap ring was never seen
// (freed on a path without a tracepoint), so the map cannot fill up.
func (e *engine) sweepRing(ctx context.Context) {
	g := e.set.Group(probes.Ring)
	if g == nil {
		return
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return
	}
	cutoff := uint64(ts.Nano()) - uint64(e.cfg.Ring.MaxAge.Nanoseconds())
	var addr uint64
	var in struct {
		EnqueuedNs uint64
		Dev        probes.DevKey
	}
	var old []uint64
	m := g.Map("ring_inflight")
	it := m.Iterate()
	for it.Next(&addr, &in) {
		if in.EnqueuedNs < cutoff {
			old = append(old, addr)
		}
	}
	expired := 0
	for _, a := range old {
		if m.Delete(a) == nil {
			expired++
		}
	}
	if expired > 0 {
		e.telemetry.VnetHostRingExpired.Add(ctx, int64(expired))
	}
}

// mapError counts a full map as an overflow (maps.<which> is too small)
// and logs the failure.
func (e *engine) mapError(ctx context.Context, which string, err error) {
	if err == nil {
		return
	}
	if errors.Is(err, unix.E2BIG) {
		e.telemetry.VnetHostMapOverflows.Add(ctx, 1, metric.WithAttributes(attribute.String("map", which)))
	}
	e.logger.Warn("Kernel map update failed", zap.String("entities", which), zap.Error(err))
}

func keys[K comparable, V any](m map[K]V) map[K]bool {
	out := make(map[K]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
