//go:build !linux

package discovery

import (
	"errors"
	"fmt"
)

// Scan needs Linux's /proc.
func (s *Scanner) Scan() ([]VM, Stats, error) {
	return nil, Stats{}, fmt.Errorf("VM discovery reads Linux /proc: %w", errors.ErrUnsupported)
}

// VMName needs Linux's /proc.
func (s *Scanner) VMName(int) (string, error) {
	return "", fmt.Errorf("VM discovery reads Linux /proc: %w", errors.ErrUnsupported)
}
