package identity

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flowA is TCP 198.18.0.1:40000 -> 198.18.1.2:5201, seq 0x01020304, ack
// 0xA0B0C0D0: its bytes below are a C program's dump of struct vnet_flow
// filled the way vnet_parse fills it.
func flowA(t testing.TB) Flow {
	f, err := TCP(netip.MustParseAddrPort("198.18.0.1:40000"), netip.MustParseAddrPort("198.18.1.2:5201"), 0x01020304, 0xA0B0C0D0)
	require.NoError(t, err)
	return f
}

const flowABytes = "c6120001000000000000000000000000" + "c6120102000000000000000000000000" +
	"409c5114" + "0406" + "0000" + "04030201" + "d0c0b0a0" + "00000000" + "00000000"

// flowB is UDP [2001:db8::1]:53000 -> [2001:db8::2]:9000, aux 0xdeadbeef.
func flowB(t testing.TB) Flow {
	f, err := UDP(netip.MustParseAddrPort("[2001:db8::1]:53000"), netip.MustParseAddrPort("[2001:db8::2]:9000"), 0xdeadbeef)
	require.NoError(t, err)
	return f
}

const flowBBytes = "20010db8000000000000000000000001" + "20010db8000000000000000000000002" +
	"08cf2823" + "0611" + "0000" + "00000000" + "00000000" + "efbeadde" + "00000000"

func TestFlowLayoutIsTheKernels(t *testing.T) {
	var f Flow
	assert.Equal(t, uintptr(FlowSize), unsafe.Sizeof(f))
	got := []uintptr{
		unsafe.Offsetof(f.Saddr), unsafe.Offsetof(f.Daddr), unsafe.Offsetof(f.Sport), unsafe.Offsetof(f.Dport),
		unsafe.Offsetof(f.Family), unsafe.Offsetof(f.Proto), unsafe.Offsetof(f.Seq), unsafe.Offsetof(f.Ack),
		unsafe.Offsetof(f.Aux),
	}
	// struct vnet_flow: saddr, daddr, sport, dport, family, proto, (pad0), seq, ack, aux, (pad1).
	assert.Equal(t, []uintptr{0, 16, 32, 34, 36, 37, 40, 44, 48}, got)
}

func TestBytes(t *testing.T) {
	a, b := flowA(t).Bytes(), flowB(t).Bytes()
	assert.Equal(t, flowABytes, hex.EncodeToString(a[:]))
	assert.Equal(t, flowBBytes, hex.EncodeToString(b[:]))
}

func TestBuilders(t *testing.T) {
	v4a, v4b := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.1.2")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	mapped := netip.MustParseAddr("::ffff:198.18.0.1")

	icmp4, err := ICMP(v4a, v4b, 8, 0, 0x1234, 7)
	require.NoError(t, err)
	assert.Equal(t, Flow{Family: 4, Proto: ProtoICMP, Sport: 8, Seq: 0x12340007,
		Saddr: [16]byte{198, 18, 0, 1}, Daddr: [16]byte{198, 18, 1, 2}}, icmp4)

	icmp6, err := ICMP(v6a, v6b, 128, 0, 1, 2)
	require.NoError(t, err)
	assert.Equal(t, ProtoICMPv6, icmp6.Proto)
	assert.Equal(t, uint8(6), icmp6.Family)
	assert.Equal(t, uint32(1<<16|2), icmp6.Seq)
	assert.Equal(t, v6a, icmp6.Src())
	assert.Equal(t, v6b, icmp6.Dst())

	// An IPv4-mapped address travels in an IPv6 header: family 6.
	m, err := UDP(netip.AddrPortFrom(mapped, 1), netip.AddrPortFrom(mapped, 2), 0)
	require.NoError(t, err)
	assert.Equal(t, uint8(6), m.Family)
	assert.Equal(t, mapped, m.Src())

	a := flowA(t)
	assert.Equal(t, v4a, a.Src())
	assert.Equal(t, v4b, a.Dst())
	assert.Equal(t, "198.18.0.1", a.Src().String())

	for name, build := range map[string]func() (Flow, error){
		"mixed":   func() (Flow, error) { return TCP(netip.AddrPortFrom(v4a, 1), netip.AddrPortFrom(v6b, 2), 0, 0) },
		"mapped":  func() (Flow, error) { return UDP(netip.AddrPortFrom(v4a, 1), netip.AddrPortFrom(mapped, 2), 0) },
		"invalid": func() (Flow, error) { return ICMP(netip.Addr{}, v4b, 8, 0, 0, 0) },
	} {
		f, err := build()
		assert.ErrorContains(t, err, "one family", name)
		assert.Equal(t, Flow{}, f, name)
	}
	assert.False(t, Flow{Family: 5}.Src().IsValid())
}

func TestUDP6Aux(t *testing.T) {
	// a = 0x04030201, b = 0x08070605 (little-endian loads, as the kernel's
	// memcpy into a __u32); a ^ b*0x9E3779B1 mod 2^32.
	assert.Equal(t, uint32(0x3bc58474), UDP6Aux([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}))
	assert.Equal(t, uint32(0x1), UDP6Aux([]byte{1}))
}

func TestParseFlow(t *testing.T) {
	valid := must(hex.DecodeString(flowABytes))
	set := func(i int, v byte) []byte {
		b := append([]byte(nil), valid...)
		b[i] = v
		return b
	}
	v6 := must(hex.DecodeString(flowBBytes))
	v6[15] = 0xff // every address byte counts in IPv6

	for _, tc := range []struct {
		name string
		in   []byte
		err  error
	}{
		{"tcp4", valid, nil},
		{"udp6", v6, nil},
		{"short", valid[:55], ErrFlowLength},
		{"long", append(append([]byte(nil), valid...), 0), ErrFlowLength},
		{"family", set(36, 5), ErrFamily},
		{"proto", set(37, 2), ErrProto},
		{"pad0", set(39, 1), ErrPadding},
		{"pad1", set(55, 1), ErrPadding},
		{"v4 saddr tail", set(4, 1), ErrPadding},
		{"v4 daddr tail", set(31, 1), ErrPadding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Flow
			err := ParseFlow(tc.in, &f)
			require.Equal(t, tc.err, err)
			if err == nil {
				b := f.Bytes()
				assert.Equal(t, tc.in, b[:])
			}
		})
	}
	var f Flow
	require.NoError(t, ParseFlow(valid, &f))
	assert.Equal(t, flowA(t), f)
}

func TestParseFlowAllocatesNothing(t *testing.T) {
	b := must(hex.DecodeString(flowABytes))
	var f Flow
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = ParseFlow(b, &f) }))
}

// Whatever ParseFlow accepts is canonical: Bytes gives it back.
func FuzzParseFlow(f *testing.F) {
	f.Add(must(hex.DecodeString(flowABytes)))
	f.Add(must(hex.DecodeString(flowBBytes)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl Flow
		err := ParseFlow(b, &fl)
		if err != nil {
			for _, e := range []error{ErrFlowLength, ErrFamily, ErrProto, ErrPadding} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		got := fl.Bytes()
		if string(got[:]) != string(b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, got)
		}
		if !fl.Src().IsValid() || !fl.Dst().IsValid() {
			t.Fatalf("accepted flow with invalid addresses: %+v", fl)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
