package pathtrace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnetpath/vnetpath/internal/identity"
)

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
