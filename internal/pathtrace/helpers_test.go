package pathtrace

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/vnetpath/vnetpath/internal/identity"
)

// sequentialIDs makes span ids 00..01, 00..02, ...
func sequentialIDs() SpanIDs {
	var n uint8
	return func() pcommon.SpanID {
		n++
		return pcommon.SpanID{7: n}
	}
}

// devices is an Attribution from a table.
type devices map[[2]uint32]Device

func (d devices) Device(netns, ifindex uint32) (Device, bool) {
	dev, ok := d[[2]uint32{netns, ifindex}]
	return dev, ok
}

// The lab's shape: a bridge (ifindex 2) and the VM's tap vnet0 (ifindex 7)
// in the host's namespace.
const hostNetns = 4026531840

var labDevices = devices{
	{hostNetns, 2}: {Interface: "br0"},
	{hostNetns, 7}: {Interface: "vnet0", VM: "vm1", VMMPID: 4242},
}

func testAssembler(t testing.TB, side Side, clock *fakeClock, edit func(*Config)) *Assembler {
	cfg := Config{
		Side:        side,
		HostName:    "kvm1",
		Key:         testKey,
		Attribution: labDevices,
		DropReason: func(r uint32) string {
			if r == 80 {
				return "SKB_DROP_REASON_FULL_RING"
			}
			return "UNKNOWN"
		},
		Clock:   clock,
		SpanIDs: sequentialIDs(),
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := NewAssembler(cfg)
	require.NoError(t, err)
	return a
}

func tcpFlow(t testing.TB, seq uint32) identity.Flow {
	f, err := identity.TCP(netip.MustParseAddrPort("198.18.0.1:40000"), netip.MustParseAddrPort("198.18.1.2:5201"), seq, 0xA0B0C0D0)
	require.NoError(t, err)
	return f
}

func comm(s string) (c [16]byte) {
	copy(c[:], s)
	return c
}

// hostToGuest is one TCP segment's host hops: the softirq receives it on
// br0 (ifindex 2, the record's skb_iif) on CPU 1, vnet0 takes it into its
// ring, and the VMM's vhost worker dequeues it 40 µs later on CPU 3.
func hostToGuest(flow identity.Flow, t0 uint64, flags Flags) []Event {
	return []Event{
		{TsNs: t0 + 3000, StartNs: t0, Flow: flow, Netns: hostNetns, Ifindex: 2, PID: 0, TID: 0, CPU: 1,
			Len: 1448, Hop: HopHostRx, Flags: flags, Comm: comm("swapper/1")},
		{TsNs: t0 + 3000, StartNs: t0 + 3000, Flow: flow, Netns: hostNetns, Ifindex: 7, PID: 0, TID: 0, CPU: 1,
			Len: 1448, Hop: HopTapEnqueue, Flags: flags, Comm: comm("swapper/1")},
		{TsNs: t0 + 43000, StartNs: t0 + 3000, Flow: flow, Netns: hostNetns, Ifindex: 7, PID: 4242, TID: 4250, CPU: 3,
			Len: 1448, Hop: HopTapRing, Flags: flags, Comm: comm("vhost-4242")},
	}
}

// testKey is the Key of testAssembler.
var testKey = identity.NewKey("vnetpath")

// add hands records to a as the kernel writes them: hashed under testKey.
func add(a *Assembler, evs ...Event) {
	for i := range evs {
		evs[i].Hash = identity.SampleHash(testKey, evs[i].Flow)
		a.Add(&evs[i])
	}
}

// spansOf lists a batch's spans in order.
func spansOf(td ptrace.Traces) []ptrace.Span {
	var out []ptrace.Span
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				out = append(out, s)
			}
		}
	}
	return out
}

func names(spans []ptrace.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}
