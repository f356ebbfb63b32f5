// Package duration parses and formats the durations of SLO configuration,
// which need days ("30d") and weeks on top of Go's time.ParseDuration.
package duration // import "github.com/vnetpath/vnetpath/internal/sli/duration"

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const (
	// Day is 24 hours; SLO periods ignore daylight saving and leap seconds.
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// Parse reads a non-negative duration such as "1s", "1h30m", "30d" or
// "2w3d". Units: ns, us (µs), ms, s, m, h, d, w. Fractions are allowed
// ("1.5h", "0.5d").
func Parse(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if s == "0" {
		return 0, nil
	}
	if s[0] == '-' || s[0] == '+' {
		return 0, fmt.Errorf("duration %q: sign not allowed", s)
	}
	var total time.Duration
	rest := s
	for rest != "" {
		n := numberLen(rest)
		if n == 0 {
			return 0, fmt.Errorf("duration %q: expected a number at %q", s, rest)
		}
		u := n + unitLen(rest[n:])
		if u == n {
			return 0, fmt.Errorf("duration %q: missing unit after %q", s, rest[:n])
		}
		part, err := parsePart(rest[:n], rest[n:u])
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		if total > math.MaxInt64-part {
			return 0, fmt.Errorf("duration %q: overflows", s)
		}
		total += part
		rest = rest[u:]
	}
	return total, nil
}

func numberLen(s string) int {
	i, dot := 0, false
	for i < len(s) {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		default:
			return i
		}
		i++
	}
	return i
}

func unitLen(s string) int {
	i := 0
	for i < len(s) {
		c := s[i]
		if (c >= '0' && c <= '9') || c == '.' {
			break
		}
		i++
	}
	return i
}

func parsePart(num, unit string) (time.Duration, error) {
	var scale time.Duration
	switch unit {
	case "d":
		scale = Day
	case "w":
		scale = Week
	default:
		// Let the standard library judge the other units.
		return time.ParseDuration(num + unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", num)
	}
	f := v * float64(scale)
	if f >= math.MaxInt64 {
		return 0, errors.New("overflows")
	}
	return time.Duration(f), nil
}

// Format writes d compactly with the largest whole units: "30d", "1h",
// "5m", "1h30m", "1d12h", "1.5s", "500ms". Parse(Format(d)) == d.
func Format(d time.Duration) string {
	if d < 0 {
		return "-" + Format(-d)
	}
	if d == 0 {
		return "0s"
	}
	if d < time.Second {
		return d.String()
	}
	var b strings.Builder
	write := func(unit time.Duration, suffix string) {
		if n := d / unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(suffix)
			d -= n * unit
		}
	}
	write(Day, "d")
	write(time.Hour, "h")
	write(time.Minute, "m")
	if d > 0 {
		// The remainder is under a minute; Go prints it exactly ("1.5s").
		b.WriteString(d.String())
	}
	return b.String()
}
