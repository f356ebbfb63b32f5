package pathtrace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Kernel reads CLOCK_REALTIME between two CLOCK_MONOTONIC readings and pairs
// it with their midpoint, which halves the error a preemption between the
// system calls would cause.
func (SystemClock) Kernel() (mono, real int64, err error) {
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
	return m1.Nano() + (m2.Nano()-m1.Nano())/2, r.Nano(), nil
}
