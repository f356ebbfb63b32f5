package pathtrace

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestRandomSpanIDs(t *testing.T) {
	ids := RandomSpanIDs()
	seen := map[pcommon.SpanID]bool{}
	for range 10000 {
		id := ids()
		require.False(t, id.IsEmpty())
		require.False(t, seen[id])
		seen[id] = true
	}
	assert.NotEqual(t, RandomSpanIDs()(), RandomSpanIDs()(), "seeded per generator")
}
