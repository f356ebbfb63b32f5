package pathtrace

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Clock is where an Assembler reads time; tests fake it.
type Clock interface {
	// Now is Go's clock: cheap enough to read per record, for the rate
	// limit and to decide when the offset is due.
	Now() time.Time
	// Kernel reads CLOCK_MONOTONIC and CLOCK_REALTIME at one instant, in ns.
	Kernel() (mono, real int64, err error)
}

// SystemClock is the running kernel's clocks.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// ClockOffset converts the records' CLOCK_MONOTONIC readings to Unix time.
// Their difference moves when the wall clock is set or slewed, so the
// owner refreshes it; a conversion is then one add.
type ClockOffset struct {
	clock  Clock
	offset int64
	read   time.Time // when the offset was last read, by clock.Now
	ever   bool
}

// NewClockOffset reads the offset at the first Refresh.
func NewClockOffset(c Clock) *ClockOffset {
	return &ClockOffset{clock: c}
}

// Refresh re-reads the offset unless it was read less than a second before
// now. On error the previous offset stays, and the next try is a second
// away: a failing clock must not cost a system call per record.
func (o *ClockOffset) Refresh(now time.Time) error {
	if o.ever && now.Sub(o.read) < time.Second {
		return nil
	}
	o.read, o.ever = now, true
	mono, real, err := o.clock.Kernel()
	if err != nil {
		return fmt.Errorf("refresh monotonic to wall clock offset: %w", err)
	}
	o.offset = real - mono
	return nil
}

// Wall is the Unix time of a CLOCK_MONOTONIC reading.
func (o *ClockOffset) Wall(mono uint64) pcommon.Timestamp {
	return pcommon.Timestamp(int64(mono) + o.offset)
}
