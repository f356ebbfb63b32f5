package action

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/vnetpath/vnetpath/internal/sli/clock"
)

func TestLimiterPerTargetAndGlobal(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	l := newLimiter(RateLimitConfig{
		PerTarget: LimitConfig{Every: time.Minute, Burst: 1},
		Global:    LimitConfig{Every: 10 * time.Second, Burst: 2},
	}, clk)

	assert.True(t, l.allow("vnet0"))
	assert.False(t, l.allow("vnet0"), "one per target per minute")
	assert.True(t, l.allow("vnet1"))
	assert.False(t, l.allow("vnet2"), "global burst of 2 spent")

	clk.Advance(10 * time.Second)
	assert.True(t, l.allow("vnet2"), "one global token back after 10s")
	assert.False(t, l.allow("vnet3"))

	clk.Advance(50 * time.Second) // one minute after the first run
	assert.True(t, l.allow("vnet0"))
}

// A run the global limit refuses takes no token from the target: the
// target may run as soon as the global bucket allows.
func TestLimiterGlobalRefusalKeepsTargetToken(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	l := newLimiter(RateLimitConfig{
		PerTarget: LimitConfig{Every: time.Hour, Burst: 1},
		Global:    LimitConfig{Every: time.Second, Burst: 1},
	}, clk)
	assert.True(t, l.allow("a"))
	assert.False(t, l.allow("b"), "global")
	clk.Advance(time.Second)
	assert.True(t, l.allow("b"), "b's token was not spent")
}

func TestLimiterOff(t *testing.T) {
	l := newLimiter(RateLimitConfig{}, clock.NewFake(time.Unix(0, 0)))
	for range 1000 {
		assert.True(t, l.allow("x"))
	}
	assert.Empty(t, l.targets, "no bucket without a per-target limit")
}

// Full buckets are forgotten once many targets are held; a target that
// comes back gets a full bucket, as it would have had.
func TestLimiterPrunesFullBuckets(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	l := newLimiter(RateLimitConfig{PerTarget: LimitConfig{Every: time.Second, Burst: 1}}, clk)
	for i := range pruneAt {
		assert.True(t, l.allow(string(rune('a'+i%26))+string(rune(i))))
	}
	assert.Len(t, l.targets, pruneAt)
	clk.Advance(time.Second)
	assert.True(t, l.allow("new"))
	assert.Len(t, l.targets, 1, "every old bucket was full again")
}

func TestRateLimitConfigRefused(t *testing.T) {
	assert.EqualError(t, RateLimitConfig{PerTarget: LimitConfig{Every: time.Second}}.validate(),
		"rate_limit.per_target.burst: must be at least 1 when every is set, got 0")
	assert.EqualError(t, RateLimitConfig{Global: LimitConfig{Every: -time.Second, Burst: 1}}.validate(),
		"rate_limit.global.every: must not be negative, got -1s")
}
