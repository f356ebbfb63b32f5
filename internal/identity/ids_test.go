package identity

import (
	"encoding/hex"
	"testing"

	"github.com/dchest/siphash"
	"github.com/stretchr/testify/assert"
)

// Pinned ids: a change here splits every trace between collectors of
// different versions. The values come from a Python SipHash-2-4 written from
// the paper (checked against its reference vectors) over the same input.
func TestIDsArePinned(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   Key
		flow  Flow
		trace string
		root  string
	}{
		{"tcp4", NewKey("vnetpath"), flowA(t), "29623aef8070f098d407a0fbe67bf6e1", "c146c4ec81095504"},
		{"udp6", NewKey("another key"), flowB(t), "9b395dd24f7d54f17e49a922ee404079", "c3c064d863f457a9"},
	} {
		tid := TraceID(tc.key, tc.flow)
		assert.Equal(t, tc.trace, hex.EncodeToString(tid[:]), tc.name)
		root := RootSpanID(tc.key, tid)
		assert.Equal(t, tc.root, hex.EncodeToString(root[:]), tc.name)

		// The digest as SipHash's streaming interface writes it.
		h := siphash.New128(tc.key[:])
		b := tc.flow.Bytes()
		h.Write(b[:])
		assert.Equal(t, h.Sum(nil), tid[:], tc.name)
	}
}

func TestIDsDependOnKeyAndFlow(t *testing.T) {
	a, b := flowA(t), flowA(t)
	b.Seq++
	k1, k2 := NewKey("vnetpath"), NewKey("vnetpath2")
	assert.Equal(t, TraceID(k1, a), TraceID(NewKey("vnetpath"), a))
	assert.NotEqual(t, TraceID(k1, a), TraceID(k2, a))
	assert.NotEqual(t, TraceID(k1, a), TraceID(k1, b))
	tid := TraceID(k1, a)
	assert.NotEqual(t, RootSpanID(k1, tid), RootSpanID(k2, tid))
	assert.NotEqual(t, RootSpanID(k1, tid), RootSpanID(k1, TraceID(k1, b)))
}

func BenchmarkTraceID(b *testing.B) {
	key, f := NewKey("vnetpath"), flowA(b)
	for b.Loop() {
		RootSpanID(key, TraceID(key, f))
	}
}
