package pathtrace

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/vnetpath/vnetpath/internal/identity"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestOnePacketToTheGuest(t *testing.T) {
	clock := newFakeClock()
	a := testAssembler(t, Host, clock, nil)
	flow := tcpFlow(t, 0x01020304)
	add(a, hostToGuest(flow, 1_000_000, 0)...)
	td := a.Flush()

	key := identity.NewKey("vnetpath")
	trace := identity.TraceID(key, flow)
	root := identity.RootSpanID(key, trace)
	spans := spansOf(td)
	require.Equal(t, []string{"packet", "host.rx", "tap.enqueue", "tap.ring"}, names(spans))
	for i, s := range spans {
		assert.Equal(t, trace, s.TraceID(), s.Name())
		assert.Equal(t, ptrace.SpanKindInternal, s.Kind(), s.Name())
		assert.Equal(t, ptrace.StatusCodeUnset, s.Status().Code(), s.Name())
		if i == 0 {
			assert.Equal(t, root, s.SpanID())
			assert.True(t, s.ParentSpanID().IsEmpty())
			continue
		}
		assert.Equal(t, pcommon.SpanID{7: uint8(i)}, s.SpanID(), s.Name())
		assert.Equal(t, root, s.ParentSpanID(), s.Name())
	}
	wall := func(mono uint64) pcommon.Timestamp { return pcommon.Timestamp(bootNs + mono) }
	times := [][2]pcommon.Timestamp{}
	for _, s := range spans {
		times = append(times, [2]pcommon.Timestamp{s.StartTimestamp(), s.EndTimestamp()})
	}
	assert.Equal(t, [][2]pcommon.Timestamp{
		{wall(1_000_000), wall(1_003_000)}, // the root: the first record's
		{wall(1_000_000), wall(1_003_000)},
		{wall(1_003_000), wall(1_003_000)},
		{wall(1_003_000), wall(1_043_000)},
	}, times)

	ring := spans[3].Attributes().AsRaw()
	assert.Equal(t, map[string]any{
		"network.type": "ipv4", "network.transport": "tcp",
		"source.address": "198.18.0.1", "source.port": int64(40000),
		"destination.address": "198.18.1.2", "destination.port": int64(5201),
		"vnet.packet.tcp.seq": int64(0x01020304), "vnet.packet.tcp.ack": int64(0xA0B0C0D0),
		"vnet.hop": "tap.ring", "vnet.packet.length": int64(1448),
		"network.interface.name": "vnet0", "vm.name": "vm1", "process.pid": int64(4242),
		"thread.id": int64(4250), "thread.name": "vhost-4242", "cpu.logical_number": int64(3),
	}, ring)
	assert.Equal(t, "br0", spans[1].Attributes().AsRaw()["network.interface.name"])
	// tap.enqueue and tap.ring would each have made a root without the cache.
	assert.Equal(t, Stats{SpansEmitted: 4, RootsEmitted: 1, RootsDeduplicated: 2}, a.Stats())

	// The whole batch, resource and attributes included.
	file := filepath.Join("testdata", "to_guest.yaml")
	if *update {
		require.NoError(t, golden.WriteTracesToFile(file, td))
	}
	want, err := golden.ReadTraces(file)
	require.NoError(t, err)
	require.NoError(t, ptracetest.CompareTraces(want, td))
}

func TestDropThenRetransmissionIsOneTrace(t *testing.T) {
	clock := newFakeClock()
	a := testAssembler(t, Host, clock, nil)
	flow := tcpFlow(t, 7000)
	drop := Event{TsNs: 5_000_000, StartNs: 4_990_000, Flow: flow, Netns: hostNetns, Ifindex: 7, CPU: 1,
		Len: 1448, Reason: 80, Hop: HopDrop, Comm: comm("swapper/1")}
	add(a, drop)
	first := spansOf(a.Flush())
	require.Equal(t, []string{"packet", "drop"}, names(first))

	// 210 ms later, in another batch: the kernel followed the retransmission
	// because the identity was dropped before.
	clock.advance(210 * time.Millisecond)
	add(a, hostToGuest(flow, 215_000_000, FlagForced)...)
	second := spansOf(a.Flush())
	require.Equal(t, []string{"host.rx", "tap.enqueue", "tap.ring"}, names(second))

	key := identity.NewKey("vnetpath")
	trace := identity.TraceID(key, flow)
	root := identity.RootSpanID(key, trace)
	for _, s := range append(first[1:], second...) {
		assert.Equal(t, trace, s.TraceID(), s.Name())
		assert.Equal(t, root, s.ParentSpanID(), s.Name())
	}
	assert.Equal(t, root, first[0].SpanID())
	assert.Equal(t, pcommon.Timestamp(bootNs+4_990_000), first[0].StartTimestamp())
	assert.Equal(t, pcommon.Timestamp(bootNs+5_000_000), first[0].EndTimestamp())

	d := first[1]
	assert.Equal(t, ptrace.StatusCodeError, d.Status().Code())
	assert.Equal(t, "dropped: FULL_RING", d.Status().Message())
	attrs := d.Attributes().AsRaw()
	assert.Equal(t, "FULL_RING", attrs["vnet.drop.reason"])
	assert.Equal(t, "vnet0", attrs["network.interface.name"])
	assert.NotContains(t, attrs, "vnet.packet.retransmission")
	for _, s := range second {
		assert.Equal(t, true, s.Attributes().AsRaw()["vnet.packet.retransmission"], s.Name())
		assert.Equal(t, ptrace.StatusCodeUnset, s.Status().Code(), s.Name())
	}
	assert.Equal(t, Stats{SpansEmitted: 5, RootsEmitted: 1, RootsDeduplicated: 3}, a.Stats())
}

func TestGuestSide(t *testing.T) {
	clock := newFakeClock()
	a := testAssembler(t, Guest, clock, nil)
	key := identity.NewKey("vnetpath")

	// To the guest: the host owns the root; the guest's hops name it.
	in := tcpFlow(t, 1)
	add(a, []Event{
		{TsNs: 100, StartNs: 100, Flow: in, Hop: HopVirtioRx},
		{TsNs: 900, StartNs: 100, Flow: in, Hop: HopTCPRcv, SRTTus: 250, SndCwnd: 10},
	}...)
	spans := spansOf(a.Flush())
	require.Equal(t, []string{"virtio.rx", "tcp.rcv"}, names(spans))
	for _, s := range spans {
		assert.Equal(t, identity.RootSpanID(key, identity.TraceID(key, in)), s.ParentSpanID())
	}
	rcv := spans[1].Attributes().AsRaw()
	assert.Equal(t, 0.00025, rcv["vnet.tcp.srtt"])
	assert.Equal(t, int64(10), rcv["vnet.tcp.cwnd"])
	assert.NotContains(t, spans[0].Attributes().AsRaw(), "vnet.tcp.srtt")

	// From the guest: the guest owns the root, once.
	out, err := identity.TCP(netip.MustParseAddrPort("198.18.1.2:5201"), netip.MustParseAddrPort("198.18.0.1:40000"), 9, 10)
	require.NoError(t, err)
	add(a, []Event{
		{TsNs: 1000, StartNs: 1000, Flow: out, Hop: HopTCPXmit, Flags: FlagFromGuest},
		{TsNs: 1500, StartNs: 1000, Flow: out, Hop: HopVirtioTx, Flags: FlagFromGuest},
	}...)
	spans = spansOf(a.Flush())
	require.Equal(t, []string{"packet", "tcp.xmit", "virtio.tx"}, names(spans))
	assert.Equal(t, identity.RootSpanID(key, identity.TraceID(key, out)), spans[0].SpanID())
	assert.Equal(t, Stats{SpansEmitted: 5, RootsEmitted: 1, RootsDeduplicated: 1}, a.Stats())
}

func TestEntrySide(t *testing.T) {
	// Which side emits the root of a record's trace.
	for _, tc := range []struct {
		hop         Hop
		flags       Flags
		host, guest bool
	}{
		{HopHostRx, 0, true, false},
		{HopTapEnqueue, FlagForced, true, false},
		{HopTapRing, 0, true, false},
		{HopDrop, 0, true, false},
		{HopDrop, FlagForced, true, false},
		{HopDrop, FlagFromGuest, false, true},
		{HopTapRx, FlagFromGuest, false, false},
		{HopHostTx, FlagFromGuest, false, false},
		{HopVirtioRx, 0, false, false},
		{HopTCPRcv, 0, false, false},
		{HopVirtioTx, FlagFromGuest, false, true},
		{HopTCPXmit, FlagFromGuest, false, true},
	} {
		for side, want := range map[Side]bool{Host: tc.host, Guest: tc.guest} {
			a := testAssembler(t, side, newFakeClock(), nil)
			ev := Event{TsNs: 1, StartNs: 1, Flow: tcpFlow(t, 1), Hop: tc.hop, Flags: tc.flags}
			add(a, ev)
			assert.Equal(t, want, a.Stats().RootsEmitted == 1, "%v %v flags %d", side, tc.hop, tc.flags)
		}
	}
}

func TestRateLimitShedsWhatTheBucketRefuses(t *testing.T) {
	clock := newFakeClock()
	a := testAssembler(t, Guest, clock, func(c *Config) { c.MaxSpansPerSecond = 5 })
	hop := func(seq uint32) Event {
		return Event{TsNs: 1, StartNs: 1, Flow: tcpFlow(t, seq), Hop: HopVirtioRx}
	}
	entry := func(seq uint32) Event {
		return Event{TsNs: 1, StartNs: 1, Flow: tcpFlow(t, seq), Hop: HopTCPXmit, Flags: FlagFromGuest}
	}
	// A full bucket: 5 of 7 pass.
	for seq := range uint32(7) {
		add(a, hop(seq))
	}
	assert.Equal(t, Stats{SpansEmitted: 5, SpansShed: 2}, a.Stats())

	// 200 ms refill one token; 199 ms more is not yet a second one.
	clock.advance(200 * time.Millisecond)
	add(a, hop(10))
	clock.advance(199 * time.Millisecond)
	add(a, hop(11))
	assert.Equal(t, Stats{SpansEmitted: 6, SpansShed: 3}, a.Stats())

	// 1 ms more completes a token, but a record with a new root needs two:
	// it is shed whole, and its root is not remembered as emitted.
	clock.advance(time.Millisecond)
	add(a, entry(20))
	assert.Equal(t, Stats{SpansEmitted: 6, SpansShed: 5}, a.Stats())

	// Idle for a minute: the bucket is full again, never fuller.
	clock.advance(time.Minute)
	add(a, entry(20))
	for seq := range uint32(5) {
		add(a, hop(30+seq))
	}
	assert.Equal(t, Stats{SpansEmitted: 11, SpansShed: 7, RootsEmitted: 1}, a.Stats())
	spans := spansOf(a.Flush())
	assert.Equal(t, []string{"virtio.rx", "virtio.rx", "virtio.rx", "virtio.rx", "virtio.rx", "virtio.rx",
		"packet", "tcp.xmit", "virtio.rx", "virtio.rx", "virtio.rx"}, names(spans))
}

func TestSameKeySameIDs(t *testing.T) {
	flow := tcpFlow(t, 42)
	host := testAssembler(t, Host, newFakeClock(), nil)
	guest := testAssembler(t, Guest, newFakeClock(), nil)
	other := testAssembler(t, Guest, newFakeClock(), func(c *Config) { c.Key = identity.NewKey("other") })

	add(host, hostToGuest(flow, 1000, 0)...)
	for _, a := range []*Assembler{guest, other} {
		add(a, Event{TsNs: 60000, StartNs: 60000, Flow: flow, Hop: HopVirtioRx})
	}
	h, g, o := spansOf(host.Flush()), spansOf(guest.Flush()), spansOf(other.Flush())
	require.Len(t, h, 4)
	require.Len(t, g, 1)
	require.Len(t, o, 1)
	assert.Equal(t, h[0].TraceID(), g[0].TraceID())
	assert.Equal(t, h[0].SpanID(), g[0].ParentSpanID(), "the guest's hop names the host's root")
	assert.NotEqual(t, h[0].TraceID(), o[0].TraceID())
	assert.NotEqual(t, h[0].SpanID(), o[0].ParentSpanID())
}

func TestRootCacheBoundsDedupe(t *testing.T) {
	a := testAssembler(t, Host, newFakeClock(), func(c *Config) { c.RootCacheSize = 2 })
	enqueue := func(seq uint32) {
		add(a, Event{TsNs: 1, StartNs: 1, Flow: tcpFlow(t, seq), Hop: HopTapEnqueue})
	}
	// A, B, A again (now the most recent), C evicts B, A is remembered, B
	// gets a root again.
	for _, seq := range []uint32{1, 2, 1, 3, 1, 2} {
		enqueue(seq)
	}
	assert.Equal(t, Stats{SpansEmitted: 6 + 4, RootsEmitted: 4, RootsDeduplicated: 2}, a.Stats())
	assert.Equal(t, []string{"packet", "tap.enqueue", "packet", "tap.enqueue", "tap.enqueue", "packet",
		"tap.enqueue", "tap.enqueue", "packet", "tap.enqueue"}, names(spansOf(a.Flush())))
}

func TestAttributesPerProtocol(t *testing.T) {
	a := testAssembler(t, Guest, newFakeClock(), func(c *Config) {
		c.Attribution = nil
		c.DropReason = nil
	})
	udp4, err := identity.UDP(netip.MustParseAddrPort("198.18.0.1:5000"), netip.MustParseAddrPort("198.18.1.2:6000"), 0x1234)
	require.NoError(t, err)
	udp6, err := identity.UDP(netip.MustParseAddrPort("[2001:db8::1]:5000"), netip.MustParseAddrPort("[2001:db8::2]:6000"), 99)
	require.NoError(t, err)
	ping, err := identity.ICMP(netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.1.2"), 8, 0, 0x77, 3)
	require.NoError(t, err)
	unreach, err := identity.ICMP(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 1, 4, 0, 0)
	require.NoError(t, err)
	for _, ev := range []Event{
		{Flow: udp4, Hop: HopVirtioRx, TID: 12, CPU: 2, Len: 100, Comm: [16]byte{'k', 's', 'o', 'f', 't', 'i', 'r', 'q', 'd', '/', '2', 0, 'x'}},
		{Flow: udp6, Hop: HopVirtioRx, Comm: [16]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p'}},
		{Flow: ping, Hop: HopDrop, Reason: 2, Flags: FlagForced},
		{Flow: unreach, Hop: HopVirtioRx},
	} {
		add(a, ev)
	}
	spans := spansOf(a.Flush())
	require.Len(t, spans, 4)
	assert.Equal(t, map[string]any{
		"network.type": "ipv4", "network.transport": "udp",
		"source.address": "198.18.0.1", "source.port": int64(5000),
		"destination.address": "198.18.1.2", "destination.port": int64(6000),
		"vnet.packet.ip.id": int64(0x1234), "vnet.hop": "virtio.rx", "vnet.packet.length": int64(100),
		"thread.id": int64(12), "thread.name": "ksoftirqd/2", "cpu.logical_number": int64(2),
	}, spans[0].Attributes().AsRaw())

	v6 := spans[1].Attributes().AsRaw()
	assert.Equal(t, "ipv6", v6["network.type"])
	assert.Equal(t, "2001:db8::1", v6["source.address"])
	assert.NotContains(t, v6, "vnet.packet.ip.id")
	assert.Equal(t, "abcdefghijklmnop", v6["thread.name"])

	drop := spans[2].Attributes().AsRaw()
	assert.Equal(t, "icmp", drop["network.transport"])
	assert.Equal(t, int64(8), drop["vnet.packet.icmp.type"])
	assert.Equal(t, int64(0), drop["vnet.packet.icmp.code"])
	assert.Equal(t, int64(0x77), drop["vnet.packet.icmp.id"])
	assert.Equal(t, int64(3), drop["vnet.packet.icmp.seq"])
	assert.NotContains(t, drop, "source.port")
	assert.Equal(t, "2", drop["vnet.drop.reason"], "no namer: the number")
	assert.Equal(t, true, drop["vnet.packet.retransmission"])
	assert.Equal(t, "dropped: 2", spans[2].Status().Message())

	other := spans[3].Attributes().AsRaw()
	assert.Equal(t, int64(1), other["vnet.packet.icmp.type"])
	assert.Equal(t, int64(4), other["vnet.packet.icmp.code"])
	assert.NotContains(t, other, "vnet.packet.icmp.id", "not an echo")
	assert.NotContains(t, other, "network.interface.name")
}

func TestBatches(t *testing.T) {
	a := testAssembler(t, Guest, newFakeClock(), func(c *Config) { c.HostName = "" })
	assert.Zero(t, a.Flush().SpanCount())
	add(a, Event{TsNs: 1, StartNs: 1, Flow: tcpFlow(t, 1), Hop: HopVirtioRx})
	td := a.Flush()
	assert.Equal(t, 1, td.SpanCount())
	assert.Zero(t, a.Flush().SpanCount(), "Flush moves the batch out")
	res := td.ResourceSpans().At(0).Resource().Attributes().AsRaw()
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"service.name": "vnetpath-guest", "host.name": host}, res)
	assert.Equal(t, DefaultScope, td.ResourceSpans().At(0).ScopeSpans().At(0).Scope().Name())

	named := testAssembler(t, Host, newFakeClock(), func(c *Config) { c.ServiceName, c.ScopeName = "edge", "rx" })
	add(named, Event{TsNs: 1, StartNs: 1, Flow: tcpFlow(t, 1), Hop: HopTapRing})
	td = named.Flush()
	assert.Equal(t, "edge", td.ResourceSpans().At(0).Resource().Attributes().AsRaw()["service.name"])
	assert.Equal(t, "rx", td.ResourceSpans().At(0).ScopeSpans().At(0).Scope().Name())
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		err  string
	}{
		{func(c *Config) { c.Side = 0 }, "Side Side(0): must be Host or Guest"},
		{func(c *Config) { c.MaxSpansPerSecond = -1 }, "MaxSpansPerSecond -1: must be in [0, 1000000000]"},
		{func(c *Config) { c.MaxSpansPerSecond = 2e9 }, "MaxSpansPerSecond 2000000000"},
		{func(c *Config) { c.RootCacheSize = -5 }, "RootCacheSize -5: must be in [0, 2^30], 0 for 65536"},
	} {
		cfg := Config{Side: Host, HostName: "h"}
		tc.edit(&cfg)
		_, err := NewAssembler(cfg)
		assert.ErrorContains(t, err, tc.err)
	}
	_, err := NewAssembler(Config{Side: Guest})
	assert.NoError(t, err, "every other field has a default")
}

func TestAssemblerFollowsTheWallClock(t *testing.T) {
	clock := newFakeClock()
	a := testAssembler(t, Guest, clock, nil)
	start := func() pcommon.Timestamp {
		add(a, Event{TsNs: 1000, StartNs: 1000, Flow: tcpFlow(t, 1), Hop: HopVirtioRx})
		return spansOf(a.Flush())[0].StartTimestamp()
	}
	assert.Equal(t, pcommon.Timestamp(bootNs+1000), start())

	// The wall clock is stepped 1 s forward; the offset follows within a second.
	clock.offset += 1e9
	clock.advance(999 * time.Millisecond)
	assert.Equal(t, pcommon.Timestamp(bootNs+1000), start())
	clock.advance(time.Millisecond)
	assert.Equal(t, pcommon.Timestamp(bootNs+1e9+1000), start())
	assert.Equal(t, 2, clock.kernelReads, "one system call per second, not per record")

	// A failing read keeps the last offset, counts, and waits a second.
	clock.err = errClock
	clock.advance(time.Second)
	assert.Equal(t, pcommon.Timestamp(bootNs+1e9+1000), start())
	start()
	assert.Equal(t, uint64(1), a.Stats().ClockErrors)
	assert.Equal(t, 3, clock.kernelReads)
}

// BenchmarkAssemble is the receiver's path: packets to the guest, each a
// new identity with three records (root, host.rx, tap.enqueue, tap.ring),
// a batch handed over every 1024 records.
func BenchmarkAssemble(b *testing.B) {
	a := testAssembler(b, Host, newFakeClock(), func(c *Config) { c.SpanIDs = RandomSpanIDs() })
	records := hostToGuest(tcpFlow(b, 0), 1000, 0)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n%len(records) == 0 {
			for i := range records {
				records[i].Flow.Seq += 1448
			}
		}
		a.Add(&records[n%len(records)])
		n++
		if n%1024 == 0 {
			_ = a.Flush()
		}
	}
	spans := a.Stats().SpansEmitted
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(spans)/float64(b.N), "spans/record")
}

func TestKeyMismatchesAreCounted(t *testing.T) {
	a := testAssembler(t, Guest, newFakeClock(), nil)
	ev := Event{TsNs: 1, StartNs: 1, Flow: tcpFlow(t, 1), Hop: HopVirtioRx}
	add(a, ev)
	ev.Hash = identity.SampleHash(identity.NewKey("the kernel's key"), ev.Flow)
	a.Add(&ev)
	assert.Equal(t, uint64(1), a.Stats().KeyMismatches)
	assert.Equal(t, 2, a.Flush().SpanCount(), "still traced: the ids are this collector's")
}
