package pathtrace

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// SpanIDs makes the hop spans' ids, which must be non-zero; tests inject a
// deterministic sequence.
type SpanIDs func() pcommon.SpanID

// RandomSpanIDs draws ids from a PCG seeded once from crypto/rand: hop span
// ids need to be unique, not unpredictable, and this costs a few ns.
func RandomSpanIDs() SpanIDs {
	var seed [16]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never returns an error since Go 1.24
	pcg := rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))
	return func() pcommon.SpanID {
		v := pcg.Uint64()
		for v == 0 {
			v = pcg.Uint64()
		}
		var id pcommon.SpanID
		binary.LittleEndian.PutUint64(id[:], v)
		return id
	}
}
