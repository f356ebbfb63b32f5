//go:build !linux

package pathtrace

import (
	"errors"
	"fmt"
)

// Kernel needs Linux: the records' times are Linux's CLOCK_MONOTONIC.
func (SystemClock) Kernel() (mono, real int64, err error) {
	return 0, 0, fmt.Errorf("read kernel clocks: %w", errors.ErrUnsupported)
}
