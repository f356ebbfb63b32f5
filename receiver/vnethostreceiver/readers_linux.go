//go:build linux

package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"bytes"
	"fmt"

	"github.com/cilium/ebpf"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/vnetpath/vnetpath/internal/kbtf"
	"github.com/vnetpath/vnetpath/internal/kmetrics"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// collection is what one scrape writes into.
type collection struct {
	mb    *metadata.MetricsBuilder
	hists *kmetrics.Histograms
	attr  *attribution
	now   pcommon.Timestamp
}

// emitSums ends a collection of a counter and records each series with
// rec, under the series' own start time.
func emitSums[S, A comparable](c *collection, cum *kmetrics.Cumulative[S, A], rec func(a A, v int64)) {
	cum.Collect(c.now, func(a A, start pcommon.Timestamp, v []uint64) {
		// The builder stamps the data points it records with its start time.
		c.mb.Reset(metadata.WithStartTime(start))
		rec(a, int64(v[0]))
	})
}

// reader turns one probe group's kernel maps into data points.
type reader interface {
	read(c *collection) error
}

// The host's histograms (see README.md).
var (
	histSoftirqLatency = kmetrics.HistDesc{Name: "vnet.softirq.latency",
		Description: "Delay from raising a softirq to its handler starting (irq:softirq_raise -> softirq_entry), per CPU and vector."}
	histSoftirqDuration = kmetrics.HistDesc{Name: "vnet.softirq.duration",
		Description: "Run time of a softirq handler (irq:softirq_entry -> softirq_exit), per CPU and vector."}
	histRingResidence = kmetrics.HistDesc{Name: "vnet.tap.ring.residence",
		Description: "Time a packet waits in a tap's ring: from the device's xmit until the VM's worker thread dequeues it."}
	histWorkerWait = kmetrics.HistDesc{Name: "vnet.worker.wait",
		Description: "Run-queue wait of a VM worker thread: from wakeup (or preemption) until it runs."}
	histWorkerRuntime = kmetrics.HistDesc{Name: "vnet.worker.runtime",
		Description: "On-CPU time of a VM worker thread per scheduling slice."}
)

type softirqKey struct {
	cpu int64
	vec string
}

// softirqReader reads the per-CPU counts and histograms, one slot per vector.
type softirqReader struct {
	countsMap, latencyMap, durationMap *ebpf.Map
	vectors                            []string
	histVector                         map[string]bool
	counts                             *kmetrics.Cumulative[softirqKey, softirqKey]
	latency                            *kmetrics.Cumulative[softirqKey, softirqKey]
	duration                           *kmetrics.Cumulative[softirqKey, softirqKey]
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
		countsMap: g.Map("softirq_counts"), latencyMap: g.Map("softirq_latency"), durationMap: g.Map("softirq_duration"),
		vectors: vectors, histVector: hv,
		counts:   kmetrics.NewCumulative[softirqKey, softirqKey](loaded),
		latency:  kmetrics.NewCumulative[softirqKey, softirqKey](loaded),
		duration: kmetrics.NewCumulative[softirqKey, softirqKey](loaded),
	}
}

func (r *softirqReader) read(c *collection) error {
	var counts []uint64
	var latency, duration []probes.Hist
	for vec, name := range r.vectors {
		if err := r.countsMap.Lookup(uint32(vec), &counts); err != nil {
			return fmt.Errorf("read softirq_counts[%s]: %w", name, err)
		}
		for cpu, n := range counts {
			// A CPU that never ran a vector has no series yet.
			if n > 0 {
				k := softirqKey{int64(cpu), name}
				r.counts.Add(k, k, n)
			}
		}
		if !r.histVector[name] {
			continue
		}
		if err := r.latencyMap.Lookup(uint32(vec), &latency); err != nil {
			return fmt.Errorf("read softirq_latency[%s]: %w", name, err)
		}
		if err := r.durationMap.Lookup(uint32(vec), &duration); err != nil {
			return fmt.Errorf("read softirq_duration[%s]: %w", name, err)
		}
		for cpu := range latency {
			k := softirqKey{int64(cpu), name}
			// Like counts, a histogram has no series until it counted once.
			if v := kmetrics.HistValues(latency[cpu : cpu+1]); kmetrics.Sum(v[:probes.HistSlots]) > 0 {
				r.latency.Add(k, k, v...)
			}
			if v := kmetrics.HistValues(duration[cpu : cpu+1]); kmetrics.Sum(v[:probes.HistSlots]) > 0 {
				r.duration.Add(k, k, v...)
			}
		}
	}
	emitSums(c, r.counts, func(k softirqKey, v int64) { c.mb.RecordVnetSoftirqCountDataPoint(c.now, v, k.cpu, k.vec) })
	kmetrics.EmitHistograms(c.hists, histSoftirqLatency, r.latency, c.now, softirqKey.put)
	kmetrics.EmitHistograms(c.hists, histSoftirqDuration, r.duration, c.now, softirqKey.put)
	return nil
}

func (k softirqKey) put(m pcommon.Map) {
	m.PutInt("cpu.logical_number", k.cpu)
	m.PutStr("vnet.softirq.vector", k.vec)
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
	packets, bytes *kmetrics.Cumulative[ifaceSource, ifaceAttrs]
}

func newDevicesReader(g *probes.Group, loaded pcommon.Timestamp) *devicesReader {
	return &devicesReader{
		m:       g.Map("dev_counters"),
		packets: kmetrics.NewCumulative[ifaceSource, ifaceAttrs](loaded),
		bytes:   kmetrics.NewCumulative[ifaceSource, ifaceAttrs](loaded),
	}
}

func (r *devicesReader) read(c *collection) error {
	err := kmetrics.Iterate(r.m, func(k probes.DevKey, perCPU []probes.DevCounters) {
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
			r.packets.Add(src, a, x.packets)
			r.bytes.Add(src, a, x.bytes)
		}
	})
	if err != nil {
		return err
	}
	emitSums(c, r.packets, func(a ifaceAttrs, v int64) {
		c.mb.RecordVnetInterfacePacketsDataPoint(c.now, v, a.ifname, a.dir, a.vm.options()...)
	})
	emitSums(c, r.bytes, func(a ifaceAttrs, v int64) {
		c.mb.RecordVnetInterfaceBytesDataPoint(c.now, v, a.ifname, a.dir, a.vm.options()...)
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
	drops   *kmetrics.Cumulative[probes.DropKey, dropAttrs]
}

func newDropsReader(g *probes.Group, reasons kbtf.Names, loaded pcommon.Timestamp) *dropsReader {
	return &dropsReader{m: g.Map("drop_counts"), reasons: reasons, drops: kmetrics.NewCumulative[probes.DropKey, dropAttrs](loaded)}
}

func (r *dropsReader) read(c *collection) error {
	err := kmetrics.Iterate(r.m, func(k probes.DropKey, perCPU []uint64) {
		d := c.attr.device(k.Dev)
		r.drops.Add(k, dropAttrs{devAttrs{d.name, d.vm}, r.reasons.Name(uint64(k.Reason))}, kmetrics.Sum(perCPU))
	})
	if err != nil {
		return err
	}
	emitSums(c, r.drops, func(a dropAttrs, v int64) {
		c.mb.RecordVnetPacketDropsDataPoint(c.now, v, a.ifname, a.reason, a.vm.options()...)
	})
	return nil
}

// ringReader reads the tap ring residence histograms.
type ringReader struct {
	m         *ebpf.Map
	residence *kmetrics.Cumulative[probes.DevKey, devAttrs]
}

func newRingReader(g *probes.Group, loaded pcommon.Timestamp) *ringReader {
	return &ringReader{m: g.Map("ring_residence"), residence: kmetrics.NewCumulative[probes.DevKey, devAttrs](loaded)}
}

func (r *ringReader) read(c *collection) error {
	err := kmetrics.Iterate(r.m, func(k probes.DevKey, perCPU []probes.Hist) {
		d := c.attr.device(k)
		r.residence.Add(k, devAttrs{d.name, d.vm}, kmetrics.HistValues(perCPU)...)
	})
	if err != nil {
		return err
	}
	kmetrics.EmitHistograms(c.hists, histRingResidence, r.residence, c.now, devAttrs.put)
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
	polls, work, exhausts *kmetrics.Cumulative[probes.DevKey, devAttrs]
}

func newNAPIReader(g *probes.Group, loaded pcommon.Timestamp) *napiReader {
	return &napiReader{
		m:        g.Map("napi_counters"),
		polls:    kmetrics.NewCumulative[probes.DevKey, devAttrs](loaded),
		work:     kmetrics.NewCumulative[probes.DevKey, devAttrs](loaded),
		exhausts: kmetrics.NewCumulative[probes.DevKey, devAttrs](loaded),
	}
}

func (r *napiReader) read(c *collection) error {
	err := kmetrics.Iterate(r.m, func(k probes.DevKey, perCPU []probes.NAPICounters) {
		var t probes.NAPICounters
		for _, v := range perCPU {
			t.Polls += v.Polls
			t.Work += v.Work
			t.BudgetExhausted += v.BudgetExhausted
		}
		d := c.attr.device(k)
		if d.name == "" {
			d.name = napiName(perCPU)
		}
		a := devAttrs{d.name, d.vm}
		r.polls.Add(k, a, t.Polls)
		r.work.Add(k, a, t.Work)
		r.exhausts.Add(k, a, t.BudgetExhausted)
	})
	if err != nil {
		return err
	}
	emitSums(c, r.polls, func(a devAttrs, v int64) { c.mb.RecordVnetNapiPollsDataPoint(c.now, v, a.ifname, a.vm.options()...) })
	emitSums(c, r.work, func(a devAttrs, v int64) { c.mb.RecordVnetNapiWorkDataPoint(c.now, v, a.ifname, a.vm.options()...) })
	emitSums(c, r.exhausts, func(a devAttrs, v int64) {
		c.mb.RecordVnetNapiBudgetExhaustedDataPoint(c.now, v, a.ifname, a.vm.options()...)
	})
	return nil
}

// napiName is the device name the kernel recorded with the polls, for a
// device outside the watched namespaces: the first CPU's that has one.
func napiName(perCPU []probes.NAPICounters) string {
	for _, v := range perCPU {
		if name, _, _ := bytes.Cut(v.Name[:], []byte{0}); len(name) > 0 {
			return string(name)
		}
	}
	return ""
}

type workerAttrs struct {
	tid    int64
	thread string
	vm     vmInfo
}

// workersReader reads the worker threads' wait and run time histograms.
type workersReader struct {
	wait, runtime *ebpf.Map
	waitC, runC   *kmetrics.Cumulative[uint32, workerAttrs]
}

func newWorkersReader(g *probes.Group, loaded pcommon.Timestamp) *workersReader {
	return &workersReader{
		wait: g.Map("worker_wait"), runtime: g.Map("worker_runtime"),
		waitC: kmetrics.NewCumulative[uint32, workerAttrs](loaded), runC: kmetrics.NewCumulative[uint32, workerAttrs](loaded),
	}
}

func (r *workersReader) read(c *collection) error {
	for _, x := range []struct {
		m *ebpf.Map
		c *kmetrics.Cumulative[uint32, workerAttrs]
	}{{r.wait, r.waitC}, {r.runtime, r.runC}} {
		err := kmetrics.Iterate(x.m, func(tid uint32, perCPU []probes.Hist) {
			w := c.attr.workers[tid]
			x.c.Add(tid, workerAttrs{int64(tid), w.name, w.vm}, kmetrics.HistValues(perCPU)...)
		})
		if err != nil {
			return err
		}
	}
	kmetrics.EmitHistograms(c.hists, histWorkerWait, r.waitC, c.now, workerAttrs.put)
	kmetrics.EmitHistograms(c.hists, histWorkerRuntime, r.runC, c.now, workerAttrs.put)
	return nil
}

func (a workerAttrs) put(m pcommon.Map) {
	m.PutInt("thread.id", a.tid)
	m.PutStr("thread.name", a.thread)
	a.vm.put(m)
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
	interrupts, kicks *kmetrics.Cumulative[kvmSource, kvmAttrs]
	// vmOf names a VMM the last discovery did not list (e.g. a VM without
	// a tap); the kvm group sees every KVM user.
	vmOf func(tgid uint32) vmInfo
	// unlisted holds what vmOf said of the VMMs of the last read, so a
	// process is named once while its entry lives rather than every read.
	unlisted map[uint32]vmInfo
}

func newKVMReader(g *probes.Group, loaded pcommon.Timestamp, vmOf func(uint32) vmInfo) *kvmReader {
	return &kvmReader{
		m:          g.Map("kvm_counters"),
		interrupts: kmetrics.NewCumulative[kvmSource, kvmAttrs](loaded),
		kicks:      kmetrics.NewCumulative[kvmSource, kvmAttrs](loaded),
		vmOf:       vmOf,
	}
}

func (r *kvmReader) read(c *collection) error {
	unlisted := make(map[uint32]vmInfo, len(r.unlisted))
	err := kmetrics.Iterate(r.m, func(tgid uint32, perCPU []probes.KVMCounters) {
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
			if vm, ok = r.unlisted[tgid]; !ok {
				vm = r.vmOf(tgid)
			}
			unlisted[tgid] = vm
		}
		add := func(cum *kmetrics.Cumulative[kvmSource, kvmAttrs], source string, n uint64) {
			// Most VMs use one kind of kick and interrupt: no zero series.
			if n > 0 {
				cum.Add(kvmSource{tgid, source}, kvmAttrs{vm, source}, n)
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
	r.unlisted = unlisted
	emitSums(c, r.interrupts, func(a kvmAttrs, v int64) {
		c.mb.RecordVnetKvmInterruptsDataPoint(c.now, v, metadata.MapAttributeVnetKvmSource[a.source], a.vm.options()...)
	})
	emitSums(c, r.kicks, func(a kvmAttrs, v int64) {
		c.mb.RecordVnetKvmKicksDataPoint(c.now, v, metadata.MapAttributeVnetKvmSource[a.source], a.vm.options()...)
	})
	return nil
}
