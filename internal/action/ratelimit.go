package action

import (
	"fmt"
	"sync"
	"time"

	"github.com/vnetpath/vnetpath/internal/sli/clock"
)

// LimitConfig is a token bucket: Burst tokens, one more every Every.
// Every 0 turns the limit off.
type LimitConfig struct {
	Every time.Duration `mapstructure:"every"`
	Burst int           `mapstructure:"burst"`
}

// RateLimitConfig limits an action's firing runs per target and over all
// targets. Resolved events are not limited: each follows a firing one.
type RateLimitConfig struct {
	PerTarget LimitConfig `mapstructure:"per_target"`
	Global    LimitConfig `mapstructure:"global"`
}

func (c LimitConfig) validate(field string) error {
	if c.Every < 0 {
		return fmt.Errorf("%s.every: must not be negative, got %v", field, c.Every)
	}
	if c.Every > 0 && c.Burst < 1 {
		return fmt.Errorf("%s.burst: must be at least 1 when every is set, got %d", field, c.Burst)
	}
	return nil
}

func (c RateLimitConfig) validate() error {
	if err := c.PerTarget.validate("rate_limit.per_target"); err != nil {
		return err
	}
	return c.Global.validate("rate_limit.global")
}

// bucket holds tokens as of last.
type bucket struct {
	tokens float64
	last   time.Time
}

// take refills the bucket to now and takes a token if one is there.
func (b *bucket) take(c LimitConfig, now time.Time) bool {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(float64(c.Burst), b.tokens+float64(el)/float64(c.Every))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// full reports whether the bucket would be full at now: then it is the
// same as a new one and can be forgotten.
func (b *bucket) full(c LimitConfig, now time.Time) bool {
	return b.tokens+float64(now.Sub(b.last))/float64(c.Every) >= float64(c.Burst)
}

// limiter applies an action's rate limits.
type limiter struct {
	cfg     RateLimitConfig
	clock   clock.Clock
	mu      sync.Mutex
	global  bucket
	targets map[string]*bucket
}

// pruneAt is the number of per-target buckets above which full ones are
// forgotten; live ones are bounded by the groups that fire.
const pruneAt = 1024

func newLimiter(cfg RateLimitConfig, clk clock.Clock) *limiter {
	now := clk.Now()
	return &limiter{
		cfg: cfg, clock: clk,
		global:  bucket{tokens: float64(cfg.Global.Burst), last: now},
		targets: map[string]*bucket{},
	}
}

// allow takes a token from the target's bucket and the global one, or
// from neither.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	pt, g := l.cfg.PerTarget, l.cfg.Global
	var b *bucket
	if pt.Every > 0 {
		if b = l.targets[key]; b == nil {
			l.prune(now)
			b = &bucket{tokens: float64(pt.Burst), last: now}
			l.targets[key] = b
		}
		// Peek without taking: the global bucket may still say no.
		probe := *b
		if !probe.take(pt, now) {
			*b = probe
			return false
		}
	}
	if g.Every > 0 && !l.global.take(g, now) {
		return false
	}
	if b != nil {
		b.take(pt, now)
	}
	return true
}

func (l *limiter) prune(now time.Time) {
	if len(l.targets) < pruneAt {
		return
	}
	for k, b := range l.targets {
		if b.full(l.cfg.PerTarget, now) {
			delete(l.targets, k)
		}
	}
}
