package identity

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKey(t *testing.T) {
	// SHA-256("vnetpath") begins 04707f8203fd3ac6 723e2c054829b158.
	k0, k1 := NewKey("vnetpath").Words()
	assert.Equal(t, uint64(0xc63afd03827f7004), k0)
	assert.Equal(t, uint64(0x58b12948052c3e72), k1)
	k0, k1 = NewKey("another key").Words()
	assert.Equal(t, uint64(0xdd4223c9470ba52a), k0)
	assert.Equal(t, uint64(0x490ee574b7cc1dda), k1)
}

// The expected values come from vnet_mix and vnet_flow_hash cut verbatim
// out of bpf/trace.h, compiled as a user-space C program (clang -O2, and gcc
// -O2 -fno-strict-aliasing) over the flows of flow_test.go with
// trace_key0/1 set to the keys' Words; an independent Python transcription
// gives the same numbers.
func TestSampleHashIsTheKernels(t *testing.T) {
	icmp, err := ICMP(netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.1.2"), 8, 0, 0x1234, 7)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		key  Key
		flow Flow
		want uint64
	}{
		{"tcp4 vnetpath", NewKey("vnetpath"), flowA(t), 0x4d0e3e5517679256},
		{"tcp4 another key", NewKey("another key"), flowA(t), 0x8972949ee5ab41bb},
		{"tcp4 zero key", Key{}, flowA(t), 0x2ac0ef7bd39da349},
		{"udp6 another key", NewKey("another key"), flowB(t), 0xff426690b91b6a21},
		{"icmp4 vnetpath", NewKey("vnetpath"), icmp, 0x0a4e9c66210c83fe},
	} {
		assert.Equal(t, tc.want, SampleHash(tc.key, tc.flow), "%s: %#x", tc.name, SampleHash(tc.key, tc.flow))
	}
}

func TestSampleHashSpreads(t *testing.T) {
	// Consecutive sequence numbers of one connection, as a transfer makes
	// them: a ratio of 0.1 must follow about a tenth.
	key := NewKey("vnetpath")
	_, threshold, err := Sampling(0.1)
	require.NoError(t, err)
	f := flowA(t)
	n := 0
	for i := range 100000 {
		f.Seq = uint32(i * 1448)
		if SampleHash(key, f) < threshold {
			n++
		}
	}
	assert.InDelta(t, 10000, n, 300)
}

func BenchmarkSampleHash(b *testing.B) {
	key, f := NewKey("vnetpath"), flowA(b)
	var sink uint64
	for b.Loop() {
		sink += SampleHash(key, f)
	}
	_ = sink
}
