package pathtrace

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The cache against a plain slice kept in recency order, over random uses
// of a key space larger than the cache.
func TestRootCacheIsLRU(t *testing.T) {
	for _, size := range []int{1, 2, 7} {
		c := newRootCache(size)
		var model []pcommon.TraceID // most recent first
		r := rand.New(rand.NewPCG(1, uint64(size)))
		for range 5000 {
			id := pcommon.TraceID{0: byte(r.IntN(3 * size))}
			i := slices.Index(model, id)
			require.Equal(t, i >= 0, c.touch(id))
			if i >= 0 {
				model = slices.Delete(model, i, i+1)
			} else {
				c.add(id)
				if len(model) == size {
					model = model[:size-1]
				}
			}
			model = slices.Insert(model, 0, id)

			var got []pcommon.TraceID
			for n := c.head; n != none; n = c.nodes[n].next {
				got = append(got, c.nodes[n].id)
			}
			require.Equal(t, model, got)
			require.Len(t, c.index, len(model))
			require.Equal(t, model[len(model)-1], c.nodes[c.tail].id)
		}
	}
}
