package kmetrics // import "github.com/vnetpath/vnetpath/internal/kmetrics"

import "time"

// Breaker stops reading a probe group's maps after repeated failures, so a
// broken map costs one skipped read per collection rather than a storm of
// syscalls and log lines; it tries again after a doubling pause and closes
// on the first success.
type Breaker struct {
	now       func() time.Time
	threshold int           // consecutive failures that open it
	pause     time.Duration // first pause; doubles up to maxPause
	maxPause  time.Duration

	failures  int
	openUntil time.Time
	nextPause time.Duration
}

// NewBreaker returns a closed breaker on the given clock.
func NewBreaker(now func() time.Time) *Breaker {
	return &Breaker{now: now, threshold: 3, pause: 5 * time.Second, maxPause: 5 * time.Minute}
}

// Allow reports whether a read may run now.
func (b *Breaker) Allow() bool {
	return !b.now().Before(b.openUntil)
}

// Open reports whether the breaker is refusing reads.
func (b *Breaker) Open() bool { return b.failures >= b.threshold }

// Done records a read's outcome.
func (b *Breaker) Done(err error) {
	if err == nil {
		b.failures, b.openUntil, b.nextPause = 0, time.Time{}, 0
		return
	}
	b.failures++
	if b.failures < b.threshold {
		return
	}
	if b.nextPause == 0 {
		b.nextPause = b.pause
	}
	b.openUntil = b.now().Add(b.nextPause)
	b.nextPause = min(2*b.nextPause, b.maxPause)
}
