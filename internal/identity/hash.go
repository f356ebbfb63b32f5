package identity

import "encoding/binary"

// SampleHash is vnet_flow_hash of bpf/trace.h, bit for bit: the kernel
// writes it into every record and compares it with the sampling threshold.
// Side by side, with w the flow's seven little-endian 64-bit words:
//
//	C (bpf/trace.h)                     Go
//	h = trace_key0;                     h := k0
//	h = vnet_mix(h, w[0]); ... w[6];    for i := range 7 { h = mix(h, w[i]) }
//	h = vnet_mix(h, trace_key1);        h = mix(h, k1)
//	h ^= h >> 29;                       h ^= h >> 29
//	h *= 0xBF58476D1CE4E5B9ULL;         h *= 0xBF58476D1CE4E5B9
//	return h ^ (h >> 32);               return h ^ h>>32
//
//	vnet_mix(h, w):                     mix(h, w):
//	h ^= w;                             h ^= w
//	h *= 0x9E3779B97F4A7C15ULL;         h *= 0x9E3779B97F4A7C15
//	return h ^ (h >> 32);               return h ^ h>>32
//
// Both sides multiply modulo 2^64.
func SampleHash(key Key, f Flow) uint64 {
	k0, k1 := key.Words()
	b := f.Bytes()
	h := k0
	for i := 0; i < FlowSize; i += 8 {
		h = mix(h, binary.LittleEndian.Uint64(b[i:]))
	}
	h = mix(h, k1)
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	return h ^ h>>32
}

func mix(h, w uint64) uint64 {
	h ^= w
	h *= 0x9E3779B97F4A7C15
	return h ^ h>>32
}
