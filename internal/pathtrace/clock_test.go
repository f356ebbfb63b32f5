package pathtrace

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// bootNs is the offset of the fake kernel clocks: wall = mono + bootNs.
const bootNs = 1_700_000_000_000_000_000

// fakeClock is a Clock tests move by hand.
type fakeClock struct {
	now         time.Time
	offset      int64 // CLOCK_REALTIME - CLOCK_MONOTONIC
	err         error
	kernelReads int
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0), offset: bootNs}
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Kernel() (mono, real int64, err error) {
	c.kernelReads++
	if c.err != nil {
		return 0, 0, c.err
	}
	return 5e9, 5e9 + c.offset, nil
}

func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

var errClock = errors.New("clock broken")

func TestClockOffsetRefreshesOncePerSecond(t *testing.T) {
	clock := newFakeClock()
	o := NewClockOffset(clock)
	require.NoError(t, o.Refresh(clock.now))
	assert.Equal(t, pcommon.Timestamp(bootNs+7), o.Wall(7))

	clock.offset -= 500 // the wall clock slewed back
	clock.advance(999 * time.Millisecond)
	require.NoError(t, o.Refresh(clock.now))
	assert.Equal(t, pcommon.Timestamp(bootNs+7), o.Wall(7))
	clock.advance(time.Millisecond)
	require.NoError(t, o.Refresh(clock.now))
	assert.Equal(t, pcommon.Timestamp(bootNs-500+7), o.Wall(7))
	assert.Equal(t, 2, clock.kernelReads)

	// A failed read keeps the offset and is not retried within the second.
	clock.err = errClock
	clock.advance(time.Second)
	assert.ErrorIs(t, o.Refresh(clock.now), errClock)
	require.NoError(t, o.Refresh(clock.now.Add(time.Millisecond)))
	assert.Equal(t, pcommon.Timestamp(bootNs-500+7), o.Wall(7))
	assert.Equal(t, 3, clock.kernelReads)
}

func TestSystemClockOffset(t *testing.T) {
	o := NewClockOffset(SystemClock{})
	require.NoError(t, o.Refresh(time.Now()))
	// A monotonic reading of now converts to about time.Now.
	mono, _, err := SystemClock{}.Kernel()
	require.NoError(t, err)
	got := o.Wall(uint64(mono)).AsTime()
	assert.WithinDuration(t, time.Now(), got, 50*time.Millisecond)
}
