package pathtrace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"structs"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnetpath/vnetpath/internal/identity"
)

// bpfEvent copies the field list bpf2go generated for struct
// vnet_trace_event (traceHostVnetTraceEvent in internal/probes, which is
// unexported): the decoder's offsets must be that layout's.
type bpfEvent struct {
	_       structs.HostLayout
	TsNs    uint64
	StartNs uint64
	Hash    uint64
	Skb     uint64
	Flow    struct {
		_      structs.HostLayout
		Saddr  [4]uint32
		Daddr  [4]uint32
		Sport  uint16
		Dport  uint16
		Family uint8
		Proto  uint8
		Pad0   uint16
		Seq    uint32
		Ack    uint32
		Aux    uint32
		Pad1   uint32
	}
	Netns   uint32
	Ifindex uint32
	Pid     uint32
	Tid     uint32
	Cpu     uint32
	Len     uint32
	Reason  uint32
	SrttUs  uint32
	SndCwnd uint32
	Hop     uint16
	Flags   uint16
	Comm    [16]int8
}

func TestLayoutIsBpf2gos(t *testing.T) {
	var e bpfEvent
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
	var e bpfEvent
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

func validRecord(t testing.TB) [RecordSize]byte {
	flow, err := identity.UDP(netip.MustParseAddrPort("198.18.0.1:5000"), netip.MustParseAddrPort("198.18.1.2:6000"), 77)
	require.NoError(t, err)
	ev := Event{TsNs: 10, StartNs: 5, Flow: flow, Hop: HopTapRing, Comm: [16]byte{'x'}}
	return ev.Bytes()
}

func TestDecodeRejects(t *testing.T) {
	valid := validRecord(t)
	with := func(edit func(b []byte)) []byte {
		b := valid
		edit(b[:])
		return b[:]
	}
	le := binary.LittleEndian
	for _, tc := range []struct {
		name string
		in   []byte
		err  error
	}{
		{"short", valid[:RecordSize-1], ErrLength},
		{"long", append(valid[:], 0), ErrLength},
		{"empty", nil, ErrLength},
		{"hop 0", with(func(b []byte) { le.PutUint16(b[offHop:], 0) }), ErrHop},
		{"hop 11", with(func(b []byte) { le.PutUint16(b[offHop:], 11) }), ErrHop},
		{"flag 4", with(func(b []byte) { le.PutUint16(b[offFlags:], 4) }), ErrFlags},
		{"flag 0x8000", with(func(b []byte) { le.PutUint16(b[offFlags:], 0x8001) }), ErrFlags},
		{"start after end", with(func(b []byte) { le.PutUint64(b[offStart:], 11) }), ErrTimes},
		{"family", with(func(b []byte) { b[offFlow+36] = 0 }), identity.ErrFamily},
		{"proto", with(func(b []byte) { b[offFlow+37] = 132 }), identity.ErrProto},
		{"flow padding", with(func(b []byte) { b[offFlow+52] = 1 }), identity.ErrPadding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := Event{TsNs: 99}
			err := Decode(tc.in, &ev)
			assert.ErrorIs(t, err, tc.err)
			assert.ErrorIs(t, err, ErrMalformed)
			assert.Equal(t, Event{TsNs: 99}, ev, "left as it was")
			assert.Zero(t, testing.AllocsPerRun(10, func() { _ = Decode(tc.in, &ev) }))
		})
	}
}

func TestDecodeAcceptsEveryHopAndFlag(t *testing.T) {
	valid := validRecord(t)
	for hop := HopHostRx; hop <= HopTCPXmit; hop++ {
		for flags := Flags(0); flags <= knownFlags; flags++ {
			b := valid
			binary.LittleEndian.PutUint16(b[offHop:], uint16(hop))
			binary.LittleEndian.PutUint16(b[offFlags:], uint16(flags))
			var ev Event
			require.NoError(t, Decode(b[:], &ev))
			assert.Equal(t, hop, ev.Hop)
			assert.Equal(t, flags, ev.Flags)
			assert.NotEmpty(t, hop.String())
		}
	}
	assert.Empty(t, Hop(0).String())
	assert.Empty(t, Hop(11).String())
}

func TestDecodeAllocatesNothing(t *testing.T) {
	b := validRecord(t)
	var ev Event
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = Decode(b[:], &ev) }))
}

// Whatever Decode accepts is what the kernel writes: Bytes gives it back.
func FuzzDecode(f *testing.F) {
	valid := validRecord(f)
	f.Add(valid[:])
	v6 := valid
	v6[offFlow+36] = 6
	f.Add(v6[:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		if err := Decode(b, &ev); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if got := ev.Bytes(); !bytes.Equal(got[:], b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
		if ev.Hop.String() == "" || ev.StartNs > ev.TsNs {
			t.Fatalf("accepted %+v", ev)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	rec := validRecord(b)
	var ev Event
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(rec[:], &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
