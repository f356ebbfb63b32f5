// Package identity names a packet by its content, so that collectors on the
// host and in a guest, which share no state and no packet id, agree on it.
//
// The kernel (bpf/trace.h) fills a Flow from the packet's headers: TCP
// 4-tuple + seq + ack; UDP 4-tuple + IP id (IPv4) or a fold of the first
// payload bytes (IPv6); ICMP addresses + type, code and the header's id and
// sequence. From the same Flow and the same Key (config tracing.key) every
// collector derives:
//
//   - SampleHash: the kernel's sampling hash, bit for bit. A packet is
//     followed when the hash falls under the threshold Sampling computes, so
//     host and guest follow the same packets.
//   - TraceID: SipHash-2-4 (128-bit output) of Flow.Bytes, keyed with Key.
//     Every hop of a packet, on either side, lands in the same trace; so
//     does a retransmission, whose identity is the original's.
//   - RootSpanID: SipHash-2-4 (64-bit output) of the trace id followed by
//     "packet", keyed with Key. Every hop span names it as parent; the side
//     where the packet enters the path emits the root span with that id.
//
// SipHash outputs are written little-endian, as the reference
// implementation writes its digest. Keys are secret only in the sense that
// a different key gives unrelated ids: trace ids do not reveal addresses to
// whoever lacks the key.
package identity
