package pathtrace

import "time"

// maxRate bounds MaxSpansPerSecond so that the bucket's arithmetic in
// nano-tokens cannot overflow.
const maxRate = 1_000_000_000

// tokenBucket allows rate spans per second with a burst of one second's
// worth, starting full. Tokens are counted in billionths so refills are
// exact integers: a test with a fake clock can predict every refusal.
type tokenBucket struct {
	rate   int64 // spans per second; 0 means no limit
	tokens int64 // billionths of a span
	last   time.Time
	begun  bool
}

// take spends n tokens at now if the bucket holds them.
func (b *tokenBucket) take(now time.Time, n int64) bool {
	if b.rate == 0 {
		return true
	}
	full := b.rate * int64(time.Second)
	if !b.begun {
		b.tokens, b.last, b.begun = full, now, true
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		// A second refills the bucket; capping first keeps the product small.
		b.tokens = min(full, b.tokens+min(elapsed, time.Second).Nanoseconds()*b.rate)
		b.last = now
	}
	cost := n * int64(time.Second)
	if b.tokens < cost {
		return false
	}
	b.tokens -= cost
	return true
}
