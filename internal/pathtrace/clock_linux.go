package pathtrace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// pairings is how many readings Kernel takes to keep the tightest.
const pairings = 5

// Kernel reads CLOCK_REALTIME between two CLOCK_MONOTONIC readings and pairs
// it with their midpoint, keeping the tightest of a few tries: a preemption
// between the system calls would skew the offset by microseconds, enough to
// misorder a host hop and the guest hop after it.
func (SystemClock) Kernel() (mono, real int64, err error) {
	best := int64(-1)
	for range pairings {
		var m1, r, m2 unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &m1); err != nil {
			return 0, 0, fmt.Errorf("read CLOCK_MONOTONIC: %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &r); err != nil {
			return 0, 0, fmt.Errorf("read CLOCK_REALTIME: %w", err)
		}
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &m2); err != nil {
			return 0, 0, fmt.Errorf("read CLOCK_MONOTONIC: %w", err)
		}
		if gap := m2.Nano() - m1.Nano(); best < 0 || gap < best {
			best, mono, real = gap, m1.Nano()+gap/2, r.Nano()
		}
	}
	return mono, real, nil
}
