//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package pathtrace

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnetpath/vnetpath/internal/identity"
	"github.com/vnetpath/vnetpath/internal/probes"
)

// The decoder's offsets must be bpf2go's layout of struct vnet_trace_event,
// generated from the object's BTF (probes.TraceEvent, whose build
// constraint this file repeats).

func TestLayoutIsBpf2gos(t *testing.T) {
	var e probes.TraceEvent
	assert.Equal(t, uintptr(RecordSize), unsafe.Sizeof(e))
	assert.Equal(t, uintptr(identity.FlowSize), unsafe.Sizeof(e.Flow))
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"ts_ns", unsafe.Offsetof(e.TsNs), offTs},
		{"start_ns", unsafe.Offsetof(e.StartNs), offStart},
		{"hash", unsafe.Offsetof(e.Hash), offHash},
		{"skb", unsafe.Offsetof(e.Skb), offSkb},
		{"flow", unsafe.Offsetof(e.Flow), offFlow},
		{"netns", unsafe.Offsetof(e.Netns), offNetns},
		{"ifindex", unsafe.Offsetof(e.Ifindex), offIfindex},
		{"pid", unsafe.Offsetof(e.Pid), offPID},
		{"tid", unsafe.Offsetof(e.Tid), offTID},
		{"cpu", unsafe.Offsetof(e.Cpu), offCPU},
		{"len", unsafe.Offsetof(e.Len), offLen},
		{"reason", unsafe.Offsetof(e.Reason), offReason},
		{"srtt_us", unsafe.Offsetof(e.SrttUs), offSRTT},
		{"snd_cwnd", unsafe.Offsetof(e.SndCwnd), offCwnd},
		{"hop", unsafe.Offsetof(e.Hop), offHop},
		{"flags", unsafe.Offsetof(e.Flags), offFlags},
		{"comm", unsafe.Offsetof(e.Comm), offComm},
	} {
		assert.Equal(t, c.want, c.got, c.name)
	}
	// The same offsets the contract lists for the flow's fields.
	assert.Equal(t, []uintptr{0, 16, 32, 34, 36, 37, 38, 40, 44, 48, 52}, []uintptr{
		unsafe.Offsetof(e.Flow.Saddr), unsafe.Offsetof(e.Flow.Daddr), unsafe.Offsetof(e.Flow.Sport),
		unsafe.Offsetof(e.Flow.Dport), unsafe.Offsetof(e.Flow.Family), unsafe.Offsetof(e.Flow.Proto),
		unsafe.Offsetof(e.Flow.Pad0), unsafe.Offsetof(e.Flow.Seq), unsafe.Offsetof(e.Flow.Ack),
		unsafe.Offsetof(e.Flow.Aux), unsafe.Offsetof(e.Flow.Pad1),
	})
}

// A record written through bpf2go's type, every field distinct, decodes to
// the same values.
func TestDecodeReadsBpf2gosFields(t *testing.T) {
	var e probes.TraceEvent
	e.TsNs, e.StartNs, e.Hash, e.Skb = 2000, 1000, 0x1122334455667788, 0xffff888012345600
	e.Flow.Saddr[0] = 0x010012c6 // 198.18.0.1 as the little-endian word of its bytes
	e.Flow.Daddr[0] = 0x020112c6 // 198.18.1.2
	e.Flow.Sport, e.Flow.Dport, e.Flow.Family, e.Flow.Proto = 40000, 5201, 4, 6
	e.Flow.Seq, e.Flow.Ack = 0x01020304, 0xA0B0C0D0
	e.Netns, e.Ifindex, e.Pid, e.Tid, e.Cpu = 4026531840, 7, 1234, 1240, 3
	e.Len, e.Reason, e.SrttUs, e.SndCwnd = 1448, 80, 250, 10
	e.Hop, e.Flags = uint16(HopDrop), uint16(FlagForced|FlagFromGuest)
	for i, c := range "vhost-1234" {
		e.Comm[i] = int8(c)
	}
	var buf bytes.Buffer
	require.NoError(t, binary.Write(&buf, binary.LittleEndian, &e))

	var ev Event
	require.NoError(t, Decode(buf.Bytes(), &ev))
	flow, err := identity.TCP(netip.MustParseAddrPort("198.18.0.1:40000"), netip.MustParseAddrPort("198.18.1.2:5201"), 0x01020304, 0xA0B0C0D0)
	require.NoError(t, err)
	assert.Equal(t, Event{
		TsNs: 2000, StartNs: 1000, Hash: 0x1122334455667788, Skb: 0xffff888012345600, Flow: flow,
		Netns: 4026531840, Ifindex: 7, PID: 1234, TID: 1240, CPU: 3,
		Len: 1448, Reason: 80, SRTTus: 250, SndCwnd: 10, Hop: HopDrop, Flags: FlagForced | FlagFromGuest,
		Comm: [16]byte{'v', 'h', 'o', 's', 't', '-', '1', '2', '3', '4'},
	}, ev)
	back := ev.Bytes()
	assert.Equal(t, buf.Bytes(), back[:])
}
