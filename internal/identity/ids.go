package identity

import (
	"encoding/binary"

	"github.com/dchest/siphash"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// rootLabel tells the root span's hash input from any other use of the key.
const rootLabel = "packet"

// TraceID is the packet's trace id: SipHash-2-4 with 128-bit output, keyed
// with key, over f.Bytes(); the two output words little-endian, as
// SipHash's reference writes its digest. Every collector with the same key
// computes it from the packet alone.
func TraceID(key Key, f Flow) pcommon.TraceID {
	k0, k1 := key.Words()
	b := f.Bytes()
	r0, r1 := siphash.Hash128(k0, k1, b[:])
	var id pcommon.TraceID
	binary.LittleEndian.PutUint64(id[0:8], r0)
	binary.LittleEndian.PutUint64(id[8:16], r1)
	if id.IsEmpty() {
		// All zero is OTLP's "no trace"; 2^-128 odds, but ids must be valid.
		id[15] = 1
	}
	return id
}

// RootSpanID is the id of the trace's root span, which every hop span
// names as parent: SipHash-2-4 with 64-bit output, keyed with key, over the
// trace id's 16 bytes followed by "packet", written little-endian.
func RootSpanID(key Key, traceID pcommon.TraceID) pcommon.SpanID {
	k0, k1 := key.Words()
	var in [16 + len(rootLabel)]byte
	copy(in[:16], traceID[:])
	copy(in[16:], rootLabel)
	var id pcommon.SpanID
	binary.LittleEndian.PutUint64(id[:], siphash.Hash(k0, k1, in[:]))
	if id.IsEmpty() {
		// All zero is OTLP's "no span".
		id[7] = 1
	}
	return id
}
