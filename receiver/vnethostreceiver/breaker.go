package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import "time"

// breaker stops reading a probe group's maps after repeated failures, so a
// broken map costs one skipped read per collection rather than a storm of
// syscalls and log lines; it tries again after a doubling pause and closes
// on the first success.
type breaker struct {
	now       func() time.Time
	threshold int           // consecutive failures that open it
	pause     time.Duration // first pause; doubles up to maxPause
	maxPause  time.Duration

	failures  int
	openUntil time.Time
	nextPause time.Duration
}

func newBreaker(now func() time.Time) *breaker {
	return &breaker{now: now, threshold: 3, pause: 5 * time.Second, maxPause: 5 * time.Minute}
}

// allow reports whether a read may run now.
func (b *breaker) allow() bool {
	return !b.now().Before(b.openUntil)
}

// open reports whether the breaker is refusing reads.
func (b *breaker) open() bool { return b.failures >= b.threshold }

// done records a read's outcome.
func (b *breaker) done(err error) {
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
