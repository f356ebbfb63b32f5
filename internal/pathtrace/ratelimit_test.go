package pathtrace

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTokenBucket(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	unlimited := tokenBucket{}
	for range 1000 {
		assert.True(t, unlimited.take(t0, 2))
	}

	b := tokenBucket{rate: 3}
	assert.True(t, b.take(t0, 2), "starts full")
	assert.True(t, b.take(t0, 1))
	assert.False(t, b.take(t0, 1))
	// A third of a second is one token, to the nanosecond.
	assert.False(t, b.take(t0.Add(333_333_333*time.Nanosecond), 1))
	assert.True(t, b.take(t0.Add(333_333_334*time.Nanosecond), 1))
	// A clock that steps back refills nothing and breaks nothing.
	assert.False(t, b.take(t0, 1))
	// An hour refills one second's worth, no more.
	later := t0.Add(time.Hour)
	assert.False(t, b.take(later, 4))
	assert.True(t, b.take(later, 3))
	assert.False(t, b.take(later, 1))

	fast := tokenBucket{rate: maxRate}
	assert.True(t, fast.take(t0, maxRate))
	assert.True(t, fast.take(t0.Add(time.Hour), maxRate), "no overflow at the largest rate")
}
