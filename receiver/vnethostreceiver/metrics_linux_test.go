//go:build linux

package vnethostreceiver

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/vnetpath/vnetpath/internal/netdev"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadatatest"
)

// scrapeResult indexes one scrape by metric and attributes.
type scrapeResult struct {
	sums  map[string]map[string]int64 // metric -> attrs -> value
	hists map[string]map[string]pmetric.HistogramDataPoint
	start map[string]map[string]pcommon.Timestamp
}

func attrKey(m pcommon.Map) string {
	var parts []string
	for k, v := range m.All() {
		parts = append(parts, k+"="+v.AsString())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func index(md pmetric.Metrics) scrapeResult {
	r := scrapeResult{sums: map[string]map[string]int64{}, hists: map[string]map[string]pmetric.HistogramDataPoint{}, start: map[string]map[string]pcommon.Timestamp{}}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				switch m.Type() {
				case pmetric.MetricTypeSum:
					r.sums[m.Name()] = map[string]int64{}
					r.start[m.Name()] = map[string]pcommon.Timestamp{}
					for _, dp := range m.Sum().DataPoints().All() {
						r.sums[m.Name()][attrKey(dp.Attributes())] = dp.IntValue()
						r.start[m.Name()][attrKey(dp.Attributes())] = dp.StartTimestamp()
					}
				case pmetric.MetricTypeHistogram:
					r.hists[m.Name()] = map[string]pmetric.HistogramDataPoint{}
					for _, dp := range m.Histogram().DataPoints().All() {
						r.hists[m.Name()][attrKey(dp.Attributes())] = dp
					}
				}
			}
		}
	}
	return r
}

// sum adds the values of metric's series whose attributes contain every pair.
func (r scrapeResult) sum(metric string, pairs ...string) int64 {
	var total int64
	for k, v := range r.sums[metric] {
		if hasAll(k, pairs) {
			total += v
		}
	}
	return total
}

// series lists the attribute keys of metric's series that contain every pair.
func (r scrapeResult) series(metric string, pairs ...string) []string {
	var out []string
	for k := range r.sums[metric] {
		if hasAll(k, pairs) {
			out = append(out, k)
		}
	}
	for k := range r.hists[metric] {
		if hasAll(k, pairs) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func hasAll(key string, pairs []string) bool {
	attrs := strings.Split(key, ",")
	for _, p := range pairs {
		if !slices.Contains(attrs, p) {
			return false
		}
	}
	return true
}

func labConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Discovery.Interval = 500 * time.Millisecond
	cfg.Ring.SampleEvery = 1 // exact residence counts
	return cfg
}

func scrapeIndexed(t *testing.T, s *hostScraper) scrapeResult {
	t.Helper()
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	return index(md)
}

func vmPairs(vm *vmlab.VM) []string {
	return []string{"network.interface.name=" + vm.HostTap, "vm.name=" + vm.Name, fmt.Sprintf("process.pid=%d", vm.PID)}
}

func udpToGuest(t *testing.T, lab *vmlab.Lab, vm *vmlab.VM, n int, rate float64) vmlab.UDPResult {
	t.Helper()
	res, err := vmlab.UDPBurst(context.Background(), lab.Client(), vm.Guest(), vmlab.UDPSpec{Count: n, Size: 64, Rate: rate}, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, n, res.Sent)
	return res
}

// TestFullRingDropsMatchTapCounters: with the VMM paused and a 64-slot ring,
// every packet the tap drops is counted as FULL_RING on that tap and VM.
func TestFullRingDropsMatchTapCounters(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{TxQueueLen: 64})
	vm := lab.VM(0)
	s := startScraper(t, labConfig())

	before := scrapeIndexed(t, s)
	tapBefore, err := vm.HostTapStats()
	require.NoError(t, err)
	require.NoError(t, vm.Control.Pause(vmmctl.ToGuest))
	udpToGuest(t, lab, vm, 1000, 20000)
	tapAfter, err := vm.HostTapStats()
	require.NoError(t, err)
	after := scrapeIndexed(t, s)
	require.NoError(t, vm.Control.Resume(vmmctl.ToGuest))

	dropped := int64(tapAfter.Sub(tapBefore).TxDropped)
	require.Equal(t, int64(1000-64), dropped, "ground truth: the ring holds 64")
	pairs := append(vmPairs(vm), "vnet.drop.reason=FULL_RING")
	require.Equal(t, dropped, after.sum("vnet.packet.drops", pairs...)-before.sum("vnet.packet.drops", pairs...))
	// The 64 held packets were accepted by the device, the rest only dropped.
	tx := append(vmPairs(vm), "network.io.direction=transmit")
	require.Equal(t, int64(64), after.sum("vnet.interface.packets", tx...)-before.sum("vnet.interface.packets", tx...))
}

// TestInterfacePacketsExact: a burst of N packets each way moves the tap's
// counters by exactly N, as the VMM's own counters say.
func TestInterfacePacketsExact(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	s := startScraper(t, labConfig())

	before := scrapeIndexed(t, s)
	vmmBefore, err := vm.Control.Stats()
	require.NoError(t, err)
	res := udpToGuest(t, lab, vm, 777, 20000)
	require.Equal(t, uint64(777), res.Received)
	back, err := vmlab.UDPBurst(context.Background(), vm.Guest(), lab.Client(), vmlab.UDPSpec{Count: 333, Size: 200, Rate: 20000}, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, uint64(333), back.Received)
	vmmAfter, err := vm.Control.Stats()
	require.NoError(t, err)
	after := scrapeIndexed(t, s)

	tx := append(vmPairs(vm), "network.io.direction=transmit")
	rx := append(vmPairs(vm), "network.io.direction=receive")
	require.Equal(t, int64(777), after.sum("vnet.interface.packets", tx...)-before.sum("vnet.interface.packets", tx...))
	require.Equal(t, int64(vmmAfter.ToGuest.FramesRead-vmmBefore.ToGuest.FramesRead), int64(777))
	require.Equal(t, int64(333), after.sum("vnet.interface.packets", rx...)-before.sum("vnet.interface.packets", rx...))
	require.Equal(t, int64(vmmAfter.FromGuest.BytesWritten-vmmBefore.FromGuest.BytesWritten),
		after.sum("vnet.interface.bytes", rx...)-before.sum("vnet.interface.bytes", rx...))
	require.Equal(t, int64(vmmAfter.ToGuest.BytesRead-vmmBefore.ToGuest.BytesRead),
		after.sum("vnet.interface.bytes", tx...)-before.sum("vnet.interface.bytes", tx...))
}

// TestInterfaceCountsGSOFrames: with offloads on the taps (vnet_hdr), TCP
// crosses the tap as GSO frames; the tap's series count them as the VMM
// does, frame for frame and byte for byte, both ways.
func TestInterfaceCountsGSOFrames(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{VnetHdr: true})
	vm := lab.VM(0)
	s := startScraper(t, labConfig())
	settle := func() vmlab.Snapshot {
		snap, err := lab.Settle(testenv.Context(t, 10*time.Second), 100*time.Millisecond)
		require.NoError(t, err)
		return snap
	}

	labBefore := settle()
	before := scrapeIndexed(t, s)
	res, err := vmlab.TCPBulk(testenv.Context(t, 30*time.Second), lab.Client(), vm.Guest(), 8<<20)
	require.NoError(t, err)
	require.True(t, res.Exact())
	moved := settle().Sub(labBefore).VMs[0].VMM
	after := scrapeIndexed(t, s)

	toGuest, fromGuest := moved.ToGuest, moved.FromGuest
	require.Greater(t, toGuest.BytesRead, toGuest.FramesRead*1514, "frames no larger than the MTU: the GSO path is not in use")
	delta := func(metric, dir string) uint64 {
		pairs := append(vmPairs(vm), "network.io.direction="+dir)
		return uint64(after.sum(metric, pairs...) - before.sum(metric, pairs...))
	}
	require.Equal(t, toGuest.FramesRead, delta("vnet.interface.packets", "transmit"))
	require.Equal(t, toGuest.BytesRead, delta("vnet.interface.bytes", "transmit"))
	require.Equal(t, fromGuest.FramesWritten, delta("vnet.interface.packets", "receive"))
	require.Equal(t, fromGuest.BytesWritten, delta("vnet.interface.bytes", "receive"))
}

// TestRingResidenceFollowsVMMDelay: with a VMM that takes 5 ms to dequeue
// each frame and packets spaced wider than that, the median residence is
// in the bucket holding 5 ms, (2^22, 2^23] ns.
func TestRingResidenceFollowsVMMDelay(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	s := startScraper(t, labConfig())
	require.NoError(t, vm.Control.SetDelay(5*time.Millisecond))

	before := scrapeIndexed(t, s)
	udpToGuest(t, lab, vm, 60, 25) // one every 40 ms
	after := scrapeIndexed(t, s)

	key := strings.Join(sortedPairs(vmPairs(vm)), ",")
	a, b := after.hists["vnet.tap.ring.residence"][key], before.hists["vnet.tap.ring.residence"][key]
	require.Equal(t, uint64(60), a.Count()-countOf(b))
	counts := a.BucketCounts().AsRaw()
	if b.BucketCounts().Len() > 0 {
		for i, n := range b.BucketCounts().AsRaw() {
			counts[i] -= n
		}
	}
	bound := medianBound(a.ExplicitBounds().AsRaw(), counts)
	require.Equal(t, math.Ldexp(1, 23)/1e9, bound, "median bucket's upper bound, counts %v", counts)
	require.Equal(t, math.Ldexp(1, 22)/1e9, a.ExplicitBounds().At(slices.Index(a.ExplicitBounds().AsRaw(), bound)-1))
}

func countOf(dp pmetric.HistogramDataPoint) uint64 {
	if dp.BucketCounts().Len() == 0 {
		return 0
	}
	return dp.Count()
}

func sortedPairs(p []string) []string {
	p = slices.Clone(p)
	slices.Sort(p)
	return p
}

// medianBound returns the upper bound of the bucket holding the median.
func medianBound(bounds []float64, counts []uint64) float64 {
	var total, seen uint64
	for _, n := range counts {
		total += n
	}
	for i, n := range counts {
		seen += n
		if 2*seen >= total {
			if i < len(bounds) {
				return bounds[i]
			}
			return math.Inf(1)
		}
	}
	return math.NaN()
}

// TestOtherVMStaysFlat: traffic to one VM moves no series of another.
func TestOtherVMStaysFlat(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{VMs: 2, TxQueueLen: 64})
	vm0, vm1 := lab.VM(0), lab.VM(1)
	s := startScraper(t, labConfig())

	before := scrapeIndexed(t, s)
	tapBefore, err := vm0.HostTapStats()
	require.NoError(t, err)
	require.NoError(t, vm0.Control.Pause(vmmctl.ToGuest))
	udpToGuest(t, lab, vm0, 500, 20000)
	require.NoError(t, vm0.Control.Resume(vmmctl.ToGuest))
	_, err = vmlab.TCPBulk(context.Background(), lab.Client(), vm0.Guest(), 1<<20)
	require.NoError(t, err)
	tapAfter, err := vm0.HostTapStats()
	require.NoError(t, err)
	after := scrapeIndexed(t, s)

	require.NotEmpty(t, after.series("vnet.interface.packets", vmPairs(vm1)...), "vm1 has series")
	for _, metric := range []string{"vnet.interface.packets", "vnet.interface.bytes", "vnet.packet.drops"} {
		for _, k := range after.series(metric, vmPairs(vm1)...) {
			require.Equalf(t, before.sums[metric][k], after.sums[metric][k], "%s{%s} moved", metric, k)
		}
	}
	key := strings.Join(sortedPairs(vmPairs(vm1)), ",")
	require.Equal(t, countOf(before.hists["vnet.tap.ring.residence"][key]), countOf(after.hists["vnet.tap.ring.residence"][key]))
	require.Greater(t, after.sum("vnet.packet.drops", append(vmPairs(vm0), "vnet.drop.reason=FULL_RING")...), int64(0))
	// vm0's drops, all of them, went to vm0: as many as its tap counted.
	dropped := int64(tapAfter.Sub(tapBefore).TxDropped)
	require.GreaterOrEqual(t, dropped, int64(500-64), "ground truth: the paused ring holds 64")
	fullRing := append(vmPairs(vm0), "vnet.drop.reason=FULL_RING")
	require.Equal(t, dropped, after.sum("vnet.packet.drops", fullRing...)-before.sum("vnet.packet.drops", fullRing...))
}

// TestWorkerThreadAttributed: the VMM's vhost-<pid> thread is measured under
// its VM.
func TestWorkerThreadAttributed(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	// Discovery refreshes every 500 ms (labConfig) while the slices are
	// counted: a refresh rewrites the worker filter and must lose none.
	s := startScraper(t, labConfig())
	slicesBefore, before := idleWorker(t, vm, s)
	udpToGuest(t, lab, vm, 200, 2000)
	slicesAfter, after := idleWorker(t, vm, s)

	want := []string{
		fmt.Sprintf("process.pid=%d", vm.PID), fmt.Sprintf("thread.id=%d", vm.WorkerTID),
		fmt.Sprintf("thread.name=vhost-%d", vm.PID), "vm.name=" + vm.Name,
	}
	for _, metric := range []string{"vnet.worker.wait", "vnet.worker.runtime"} {
		got := after.series(metric, fmt.Sprintf("process.pid=%d", vm.PID))
		require.Equal(t, []string{strings.Join(want, ",")}, got, metric)
		require.NotZero(t, after.hists[metric][got[0]].Count(), "%s counted no scheduling of the worker", metric)
	}
	// Ground truth: the kernel's count of the worker's time slices. Each
	// one is in the runtime histogram, even one whose switch in the
	// tracepoint never saw (this VM's kernel hides the switches away from
	// its agent's threads); each wait ends in one.
	key := strings.Join(want, ",")
	ran := slicesAfter - slicesBefore
	require.Equal(t, ran, after.hists["vnet.worker.runtime"][key].Count()-countOf(before.hists["vnet.worker.runtime"][key]))
	require.LessOrEqual(t, after.hists["vnet.worker.wait"][key].Count()-countOf(before.hists["vnet.worker.wait"][key]), ran)
}

// idleWorker waits until the VM's worker thread sleeps, then scrapes: it
// returns the thread's time slices so far (the third field of its
// schedstat) and the scrape, taken while the thread ran neither a new
// slice nor any time.
func idleWorker(t *testing.T, vm *vmlab.VM, s *hostScraper) (uint64, scrapeResult) {
	t.Helper()
	schedstat := func() (runNs, timeslices uint64) {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/schedstat", vm.PID, vm.WorkerTID))
		require.NoError(t, err)
		var waitNs uint64
		_, err = fmt.Sscanf(string(raw), "%d %d %d", &runNs, &waitNs, &timeslices)
		require.NoError(t, err)
		return runNs, timeslices
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		run, n := schedstat()
		time.Sleep(20 * time.Millisecond)
		r := scrapeIndexed(t, s)
		if run2, n2 := schedstat(); run2 == run && n2 == n {
			return n, r
		}
		require.True(t, time.Now().Before(deadline), "the worker thread never slept for 20 ms")
	}
}

// TestVMsComeAndGo: a killed VMM's series stop; a new VM is reported within
// one discovery interval.
func TestVMsComeAndGo(t *testing.T) {
	testenv.RequireRoot(t)
	cfg := labConfig()
	cfg.Discovery.Interval = time.Second
	s := startScraper(t, cfg)
	lab := vmlab.NewT(t, vmlab.Options{VMs: 2})
	vm0, vm1 := lab.VM(0), lab.VM(1)

	deadline := time.Now().Add(cfg.Discovery.Interval + 500*time.Millisecond)
	for {
		r := scrapeIndexed(t, s)
		if len(r.series("vnet.interface.packets", vmPairs(vm0)...)) == 2 && len(r.series("vnet.interface.packets", vmPairs(vm1)...)) == 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "new VMs not reported within one discovery interval")
		time.Sleep(50 * time.Millisecond)
	}

	require.NoError(t, syscall.Kill(vm0.PID, syscall.SIGKILL))
	deadline = time.Now().Add(cfg.Discovery.Interval + 500*time.Millisecond)
	for {
		r := scrapeIndexed(t, s)
		gone := len(r.series("vnet.interface.packets", "vm.name="+vm0.Name)) == 0 &&
			len(r.series("vnet.tap.ring.residence", "vm.name="+vm0.Name)) == 0 &&
			len(r.series("vnet.worker.wait", "vm.name="+vm0.Name)) == 0
		if gone {
			require.Len(t, r.series("vnet.interface.packets", vmPairs(vm1)...), 2, "the other VM is still reported")
			break
		}
		require.True(t, time.Now().Before(deadline), "killed VM still reported")
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRealQEMUAttributed: a real QEMU holding a tap is attributed by its
// -name guest= argument.
func TestRealQEMUAttributed(t *testing.T) {
	testenv.RequireRoot(t)
	qemu, err := exec.LookPath("qemu-system-x86_64")
	require.NoError(t, err, "install qemu-system-x86 (make deps does)")
	tap := fmt.Sprintf("vnetq%d", os.Getpid()%10000)
	cmd := exec.Command(qemu, "-machine", "none", "-nodefaults", "-display", "none",
		"-name", "guest=qemu-attr,debug-threads=on", "-netdev", "tap,id=n0,ifname="+tap+",script=no,downscript=no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	s := startScraper(t, labConfig())
	want := []string{"network.interface.name=" + tap, "vm.name=qemu-attr", fmt.Sprintf("process.pid=%d", cmd.Process.Pid)}
	deadline := time.Now().Add(5 * time.Second)
	for len(scrapeIndexed(t, s).series("vnet.interface.packets", want...)) != 2 {
		require.True(t, time.Now().Before(deadline), "QEMU's tap %s not attributed", tap)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKVMAttributionFromRecordedCounts: no KVM guest runs here, so the kvm
// map is filled with recorded counts for a lab VMM and for a process the
// discovery does not list; the reader attributes both.
func TestKVMAttributionFromRecordedCounts(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	cfg := labConfig()
	cfg.Probes = []string{probes.KVM}
	s := startScraper(t, cfg)

	// A KVM user without a tap: the shell keeps its cmdline (no exec of the
	// last command, thanks to the trailing true).
	other := exec.Command("/bin/sh", "-c", "sleep 60; true", "-name", "guest=tapless-vm")
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	// Start returns before the child's exec: wait for its command line.
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", other.Process.Pid))
		return strings.Contains(string(b), "guest=tapless-vm")
	}, 5*time.Second, 10*time.Millisecond)

	// Count the reader's /proc look-ups of unlisted VMMs.
	var kr *kvmReader
	for _, g := range s.groups {
		if g.name == probes.KVM {
			kr = g.reader.(*kvmReader)
		}
	}
	named := map[int]int{}
	vmOf := kr.vmOf
	kr.vmOf = func(tgid uint32) vmInfo { named[int(tgid)]++; return vmOf(tgid) }

	m := s.inst.probes.Group(probes.KVM).Map("kvm_counters")
	ncpu, err := ebpf.PossibleCPU()
	require.NoError(t, err)
	record := func(pid int, perCPU ...probes.KVMCounters) {
		vals := make([]probes.KVMCounters, ncpu)
		copy(vals, perCPU)
		require.NoError(t, m.Put(uint32(pid), vals))
	}
	record(vm.PID, probes.KVMCounters{MSIIRQs: 1200, FastMMIO: 800}, probes.KVMCounters{MSIIRQs: 34, FastMMIO: 2})
	record(other.Process.Pid, probes.KVMCounters{GSIIRQs: 7, PIO: 9})
	r := scrapeIndexed(t, s)

	vmp := []string{"vm.name=" + vm.Name, fmt.Sprintf("process.pid=%d", vm.PID)}
	require.Equal(t, int64(1234), r.sum("vnet.kvm.interrupts", append(vmp, "vnet.kvm.source=msi")...))
	require.Equal(t, int64(802), r.sum("vnet.kvm.kicks", append(vmp, "vnet.kvm.source=fast_mmio")...))
	require.Len(t, r.series("vnet.kvm.interrupts", vmp...), 1, "no zero series")
	op := []string{"vm.name=tapless-vm", fmt.Sprintf("process.pid=%d", other.Process.Pid)}
	require.Equal(t, int64(7), r.sum("vnet.kvm.interrupts", append(op, "vnet.kvm.source=gsi")...))
	require.Equal(t, int64(9), r.sum("vnet.kvm.kicks", append(op, "vnet.kvm.source=pio")...))

	// The unlisted VMM is read from /proc once while its entry lives, and
	// afresh when its entry comes back; the listed one never.
	r = scrapeIndexed(t, s)
	require.Equal(t, int64(7), r.sum("vnet.kvm.interrupts", append(op, "vnet.kvm.source=gsi")...))
	require.Equal(t, 1, named[other.Process.Pid])
	require.NoError(t, m.Delete(uint32(other.Process.Pid)))
	scrapeIndexed(t, s)
	record(other.Process.Pid, probes.KVMCounters{GSIIRQs: 7, PIO: 9})
	r = scrapeIndexed(t, s)
	require.Equal(t, int64(7), r.sum("vnet.kvm.interrupts", append(op, "vnet.kvm.source=gsi")...))
	require.Equal(t, 2, named[other.Process.Pid])
	require.Zero(t, named[vm.PID])
}

// TestNAPIFromRecordedCounts: no NIC here polls reliably, so the napi map is
// filled with recorded counts: per-CPU counts are summed, a device of a
// watched namespace is named by the namespace, another by the name the
// kernel recorded.
func TestNAPIFromRecordedCounts(t *testing.T) {
	testenv.RequireRoot(t)
	cfg := labConfig()
	cfg.Probes = []string{probes.NAPI}
	s := startScraper(t, cfg)
	own, err := netdev.OwnNetNS()
	require.NoError(t, err)
	ncpu, err := ebpf.PossibleCPU()
	require.NoError(t, err)
	m := s.inst.probes.Group(probes.NAPI).Map("napi_counters")
	record := func(k probes.DevKey, perCPU ...probes.NAPICounters) {
		vals := make([]probes.NAPICounters, ncpu)
		copy(vals, perCPU)
		require.NoError(t, m.Put(k, vals))
	}
	named := func(name string) (n [16]byte) { copy(n[:], name); return n }
	// ifindex 1 of the collector's namespace is lo, whatever the kernel recorded.
	record(probes.DevKey{NetNS: own, Ifindex: 1},
		probes.NAPICounters{Polls: 10, Work: 64, Name: named("stale")}, probes.NAPICounters{Polls: 5, Work: 3, BudgetExhausted: 1})
	record(probes.DevKey{NetNS: 1, Ifindex: 7}, probes.NAPICounters{}, probes.NAPICounters{Polls: 2, Work: 9, Name: named("vnet-unwatched")})
	r := scrapeIndexed(t, s)

	for metric, want := range map[string]int64{"vnet.napi.polls": 15, "vnet.napi.work": 67, "vnet.napi.budget_exhausted": 1} {
		require.Equal(t, want, r.sums[metric]["network.interface.name=lo"], metric)
	}
	for metric, want := range map[string]int64{"vnet.napi.polls": 2, "vnet.napi.work": 9, "vnet.napi.budget_exhausted": 0} {
		require.Equal(t, want, r.sums[metric]["network.interface.name=vnet-unwatched"], metric)
	}
	require.Empty(t, r.series("vnet.napi.polls", "network.interface.name=stale"))
}

// TestMissingHookLeavesOthersRunning: a group whose tracepoint does not
// exist is disabled and reported; the other groups run.
func TestMissingHookLeavesOthersRunning(t *testing.T) {
	testenv.RequireRoot(t)
	cfg := labConfig()
	cfg.hookRenames = map[string]string{"napi_poll": "vnet_no_such_tracepoint"}
	s, tel := startTelemetryScraper(t, cfg, nil)

	var want []metricdata.DataPoint[int64]
	for _, st := range s.inst.probes.Status() {
		require.Equal(t, st.Group != probes.NAPI, st.Active, st.Group)
		state, attached := "active", int64(1)
		if !st.Active {
			state, attached = "disabled", 0
			require.Contains(t, st.Reason, "tracepoint vnet_no_such_tracepoint: hook not found in this kernel")
		}
		want = append(want, metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(attribute.String("group", st.Group), attribute.String("state", state), attribute.String("reason", st.Reason)),
			Value:      attached,
		})
	}
	require.Len(t, want, len(probes.Names(probes.Host)))
	metadatatest.AssertEqualVnetHostProbeGroups(t, tel, want, metricdatatest.IgnoreTimestamp())
}
