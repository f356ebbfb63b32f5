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

// collection is what one scrape writes into.
type collection struct {
	mb    *metadata.MetricsBuilder
	hists *histograms
	attr  *attribution
	now   pcommon.Timestamp
}

// record sets the series' start time for the builder's next data point.
func (c *collection) record(start pcommon.Timestamp, rec func()) {
	c.mb.Reset(metadata.WithStartTime(start))
	rec()
}

// reader turns one probe group's kernel maps into data points.
type reader interface {
	read(c *collection) error
}

// iterate walks a per-CPU hash map; fn gets each key and its per-CPU values.
func iterate[K any, V any](m *ebpf.Map, fn func(K, []V)) error {
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

type softirqKey struct {
	cpu int64
	vec string
}

// softirqReader reads the per-CPU counts and histograms, one slot per vector.
type softirqReader struct {
	g          *probes.Group
	vectors    []string
	histVector map[string]bool
	counts     *cumulative[softirqKey, softirqKey]
	latency    *cumulative[softirqKey, softirqKey]
	duration   *cumulative[softirqKey, softirqKey]
}

func newSoftirqReader(g *probes.Group, names kbtf.Names, histVectors []string, loaded pcommon.Timestamp) *softirqReader {
	vectors := make([]string, g.Map("softirq_counts").MaxEntries())
	for i := range vectors {
		vectors[i] = names.Name(uint64(i))
	}
	hv := map[string]bool{}
	for _, v := range histVectors {
		hv[v] = true
	}
	return &softirqReader{
		g: g, vectors: vectors, histVector: hv,
		counts:   newCumulative[softirqKey, softirqKey](loaded),
		latency:  newCumulative[softirqKey, softirqKey](loaded),
		duration: newCumulative[softirqKey, softirqKey](loaded),
	}
}

func (r *softirqReader) read(c *collection) error {
	var counts []uint64
	var latency, duration []probes.Hist
	for vec, name := range r.vectors {
		if err := r.g.Map("softirq_counts").Lookup(uint32(vec), &counts); err != nil {
			return fmt.Errorf("read softirq_counts[%s]: %w", name, err)
		}
		for cpu, n := range counts {
			// A CPU that never ran a vector has no series yet.
			if n > 0 {
				k := softirqKey{int64(cpu), name}
				r.counts.add(k, k, n)
			}
		}
		if !r.histVector[name] {
			continue
		}
		if err := r.g.Map("softirq_latency").Lookup(uint32(vec), &latency); err != nil {
			return fmt.Errorf("read softirq_latency[%s]: %w", name, err)
		}
		if err := r.g.Map("softirq_duration").Lookup(uint32(vec), &duration); err != nil {
			return fmt.Errorf("read softirq_duration[%s]: %w", name, err)
		}
		for cpu := range latency {
			k := softirqKey{int64(cpu), name}
			// Like counts, a histogram has no series until it counted once.
			if v := histValues(latency[cpu : cpu+1]); sum(v[:probes.HistSlots]) > 0 {
				r.latency.add(k, k, v...)
			}
			if v := histValues(duration[cpu : cpu+1]); sum(v[:probes.HistSlots]) > 0 {
				r.duration.add(k, k, v...)
			}
		}
	}
	r.counts.collect(c.now, func(k softirqKey, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() { c.mb.RecordVnetSoftirqCountDataPoint(c.now, int64(v[0]), k.cpu, k.vec) })
	})
	for _, h := range []struct {
		d histDesc
		c *cumulative[softirqKey, softirqKey]
	}{{histSoftirqLatency, r.latency}, {histSoftirqDuration, r.duration}} {
		h.c.collect(c.now, func(k softirqKey, start pcommon.Timestamp, v []uint64) {
			c.hists.add(h.d, start, c.now, v, func(m pcommon.Map) {
				m.PutInt("cpu.logical_number", k.cpu)
				m.PutStr("vnet.softirq.vector", k.vec)
			})
		})
	}
	return nil
}

func sum(v []uint64) uint64 {
	var t uint64
	for _, x := range v {
		t += x
	}
	return t
}

// devAttrs are the attributes of a per-device series.
type devAttrs struct {
	ifname string
	vm     vmInfo
}

type ifaceAttrs struct {
	devAttrs
	dir metadata.AttributeNetworkIoDirection
}

type ifaceSource struct {
	dev probes.DevKey
	dir metadata.AttributeNetworkIoDirection
}

// devicesReader reads packets and bytes per VM-facing device and direction.
type devicesReader struct {
	m              *ebpf.Map
	packets, bytes *cumulative[ifaceSource, ifaceAttrs]
}

func newDevicesReader(g *probes.Group, loaded pcommon.Timestamp) *devicesReader {
	return &devicesReader{
		m:       g.Map("dev_counters"),
		packets: newCumulative[ifaceSource, ifaceAttrs](loaded),
		bytes:   newCumulative[ifaceSource, ifaceAttrs](loaded),
	}
}

func (r *devicesReader) read(c *collection) error {
	err := iterate(r.m, func(k probes.DevKey, perCPU []probes.DevCounters) {
		var t probes.DevCounters
		for _, v := range perCPU {
			t.RxPackets += v.RxPackets
			t.RxBytes += v.RxBytes
			t.TxPackets += v.TxPackets
			t.TxBytes += v.TxBytes
		}
		d := c.attr.device(k)
		for _, x := range []struct {
			dir            metadata.AttributeNetworkIoDirection
			packets, bytes uint64
		}{
			{metadata.AttributeNetworkIoDirectionTransmit, t.TxPackets, t.TxBytes},
			{metadata.AttributeNetworkIoDirectionReceive, t.RxPackets, t.RxBytes},
		} {
			a := ifaceAttrs{devAttrs{d.name, d.vm}, x.dir}
			src := ifaceSource{k, x.dir}
			r.packets.add(src, a, x.packets)
			r.bytes.add(src, a, x.bytes)
		}
	})
	if err != nil {
		return err
	}
	r.packets.collect(c.now, func(a ifaceAttrs, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() {
			c.mb.RecordVnetInterfacePacketsDataPoint(c.now, int64(v[0]), a.ifname, a.dir, a.vm.options()...)
		})
	})
	r.bytes.collect(c.now, func(a ifaceAttrs, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() {
			c.mb.RecordVnetInterfaceBytesDataPoint(c.now, int64(v[0]), a.ifname, a.dir, a.vm.options()...)
		})
	})
	return nil
}

type dropAttrs struct {
	devAttrs
	reason string
}

// dropsReader reads drops per device and kernel drop reason.
type dropsReader struct {
	m       *ebpf.Map
	reasons kbtf.Names
	drops   *cumulative[probes.DropKey, dropAttrs]
}

func newDropsReader(g *probes.Group, reasons kbtf.Names, loaded pcommon.Timestamp) *dropsReader {
	return &dropsReader{m: g.Map("drop_counts"), reasons: reasons, drops: newCumulative[probes.DropKey, dropAttrs](loaded)}
}

func (r *dropsReader) read(c *collection) error {
	err := iterate(r.m, func(k probes.DropKey, perCPU []uint64) {
		d := c.attr.device(k.Dev)
		r.drops.add(k, dropAttrs{devAttrs{d.name, d.vm}, r.reasons.Name(uint64(k.Reason))}, sum(perCPU))
	})
	if err != nil {
		return err
	}
	r.drops.collect(c.now, func(a dropAttrs, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() {
			c.mb.RecordVnetPacketDropsDataPoint(c.now, int64(v[0]), a.ifname, a.reason, a.vm.options()...)
		})
	})
	return nil
}

// ringReader reads the tap ring residence histograms.
type ringReader struct {
	m         *ebpf.Map
	residence *cumulative[probes.DevKey, devAttrs]
}

func newRingReader(g *probes.Group, loaded pcommon.Timestamp) *ringReader {
	return &ringReader{m: g.Map("ring_residence"), residence: newCumulative[probes.DevKey, devAttrs](loaded)}
}

func (r *ringReader) read(c *collection) error {
	err := iterate(r.m, func(k probes.DevKey, perCPU []probes.Hist) {
		d := c.attr.device(k)
		r.residence.add(k, devAttrs{d.name, d.vm}, histValues(perCPU)...)
	})
	if err != nil {
		return err
	}
	r.residence.collect(c.now, func(a devAttrs, start pcommon.Timestamp, v []uint64) {
		c.hists.add(histRingResidence, start, c.now, v, a.put)
	})
	return nil
}

// put writes device attributes onto a hand-built data point.
func (a devAttrs) put(m pcommon.Map) {
	m.PutStr("network.interface.name", a.ifname)
	a.vm.put(m)
}

func (v vmInfo) put(m pcommon.Map) {
	if v.pid != 0 {
		m.PutStr("vm.name", v.name)
		m.PutInt("process.pid", v.pid)
	}
}

// napiReader reads NAPI polls per device.
type napiReader struct {
	m                     *ebpf.Map
	polls, work, exhausts *cumulative[probes.DevKey, devAttrs]
}

func newNAPIReader(g *probes.Group, loaded pcommon.Timestamp) *napiReader {
	return &napiReader{
		m:        g.Map("napi_counters"),
		polls:    newCumulative[probes.DevKey, devAttrs](loaded),
		work:     newCumulative[probes.DevKey, devAttrs](loaded),
		exhausts: newCumulative[probes.DevKey, devAttrs](loaded),
	}
}

func (r *napiReader) read(c *collection) error {
	err := iterate(r.m, func(k probes.DevKey, perCPU []probes.NAPICounters) {
		var t probes.NAPICounters
		name := ""
		for _, v := range perCPU {
			t.Polls += v.Polls
			t.Work += v.Work
			t.BudgetExhausted += v.BudgetExhausted
			if name == "" {
				name = cString(v.Name[:])
			}
		}
		d := c.attr.device(k)
		if d.name == "" {
			d.name = name
		}
		a := devAttrs{d.name, d.vm}
		r.polls.add(k, a, t.Polls)
		r.work.add(k, a, t.Work)
		r.exhausts.add(k, a, t.BudgetExhausted)
	})
	if err != nil {
		return err
	}
	r.polls.collect(c.now, func(a devAttrs, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() { c.mb.RecordVnetNapiPollsDataPoint(c.now, int64(v[0]), a.ifname, a.vm.options()...) })
	})
	r.work.collect(c.now, func(a devAttrs, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() { c.mb.RecordVnetNapiWorkDataPoint(c.now, int64(v[0]), a.ifname, a.vm.options()...) })
	})
	r.exhausts.collect(c.now, func(a devAttrs, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() {
			c.mb.RecordVnetNapiBudgetExhaustedDataPoint(c.now, int64(v[0]), a.ifname, a.vm.options()...)
		})
	})
	return nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

type workerAttrs struct {
	tid    int64
	thread string
	vm     vmInfo
}

// workersReader reads the worker threads' wait and run time histograms.
type workersReader struct {
	wait, runtime *ebpf.Map
	waitC, runC   *cumulative[uint32, workerAttrs]
}

func newWorkersReader(g *probes.Group, loaded pcommon.Timestamp) *workersReader {
	return &workersReader{
		wait: g.Map("worker_wait"), runtime: g.Map("worker_runtime"),
		waitC: newCumulative[uint32, workerAttrs](loaded), runC: newCumulative[uint32, workerAttrs](loaded),
	}
}

func (r *workersReader) read(c *collection) error {
	for _, x := range []struct {
		m *ebpf.Map
		c *cumulative[uint32, workerAttrs]
	}{{r.wait, r.waitC}, {r.runtime, r.runC}} {
		err := iterate(x.m, func(tid uint32, perCPU []probes.Hist) {
			w := c.attr.workers[tid]
			x.c.add(tid, workerAttrs{int64(tid), w.name, w.vm}, histValues(perCPU)...)
		})
		if err != nil {
			return err
		}
	}
	for _, x := range []struct {
		d histDesc
		c *cumulative[uint32, workerAttrs]
	}{{histWorkerWait, r.waitC}, {histWorkerRuntime, r.runC}} {
		x.c.collect(c.now, func(a workerAttrs, start pcommon.Timestamp, v []uint64) {
			c.hists.add(x.d, start, c.now, v, func(m pcommon.Map) {
				m.PutInt("thread.id", a.tid)
				m.PutStr("thread.name", a.thread)
				a.vm.put(m)
			})
		})
	}
	return nil
}

type kvmAttrs struct {
	vm     vmInfo
	source string
}

type kvmSource struct {
	tgid   uint32
	source string
}

// kvmReader reads interrupts and kicks per VMM.
type kvmReader struct {
	m                 *ebpf.Map
	interrupts, kicks *cumulative[kvmSource, kvmAttrs]
	// vmOf names a VMM the last discovery did not list (e.g. a VM without
	// a tap); the kvm group sees every KVM user.
	vmOf func(tgid uint32) vmInfo
}

func newKVMReader(g *probes.Group, loaded pcommon.Timestamp, vmOf func(uint32) vmInfo) *kvmReader {
	return &kvmReader{
		m:          g.Map("kvm_counters"),
		interrupts: newCumulative[kvmSource, kvmAttrs](loaded),
		kicks:      newCumulative[kvmSource, kvmAttrs](loaded),
		vmOf:       vmOf,
	}
}

func (r *kvmReader) read(c *collection) error {
	err := iterate(r.m, func(tgid uint32, perCPU []probes.KVMCounters) {
		var t probes.KVMCounters
		for _, v := range perCPU {
			t.MSIIRQs += v.MSIIRQs
			t.GSIIRQs += v.GSIIRQs
			t.FastMMIO += v.FastMMIO
			t.MMIO += v.MMIO
			t.PIO += v.PIO
		}
		vm, ok := c.attr.vmms[tgid]
		if !ok {
			vm = r.vmOf(tgid)
		}
		add := func(cum *cumulative[kvmSource, kvmAttrs], source string, n uint64) {
			// Most VMs use one kind of kick and interrupt: no zero series.
			if n > 0 {
				cum.add(kvmSource{tgid, source}, kvmAttrs{vm, source}, n)
			}
		}
		add(r.interrupts, "msi", t.MSIIRQs)
		add(r.interrupts, "gsi", t.GSIIRQs)
		add(r.kicks, "fast_mmio", t.FastMMIO)
		add(r.kicks, "mmio", t.MMIO)
		add(r.kicks, "pio", t.PIO)
	})
	if err != nil {
		return err
	}
	r.interrupts.collect(c.now, func(a kvmAttrs, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() {
			c.mb.RecordVnetKvmInterruptsDataPoint(c.now, int64(v[0]), metadata.MapAttributeVnetKvmSource[a.source], a.vm.options()...)
		})
	})
	r.kicks.collect(c.now, func(a kvmAttrs, start pcommon.Timestamp, v []uint64) {
		c.record(start, func() {
			c.mb.RecordVnetKvmKicksDataPoint(c.now, int64(v[0]), metadata.MapAttributeVnetKvmSource[a.source], a.vm.options()...)
		})
	})
	return nil
}
