package action

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxCPUs is the size of the kernel's default cpu_set_t.
const maxCPUs = 1024

// ParseCPUList parses a CPU list as the kernel writes them
// (/sys/devices/system/cpu/online, cpuset.cpus): "0-1,3". It returns the
// CPUs sorted and unique.
func ParseCPUList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("cpu list: empty")
	}
	var cpus []int
	for _, item := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parseCPU(lo)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = parseCPU(hi); err != nil {
				return nil, fmt.Errorf("cpu list %q: %w", s, err)
			}
			if b < a {
				return nil, fmt.Errorf("cpu list %q: range %s is backwards", s, item)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

func parseCPU(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= maxCPUs || s != strconv.Itoa(n) {
		return 0, fmt.Errorf("%q is not a CPU number in [0, %d)", s, maxCPUs)
	}
	return n, nil
}

// FormatCPUList writes sorted, unique CPUs compactly: "0-1,3".
func FormatCPUList(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// missingCPUs lists the CPUs of want that are not in have.
func missingCPUs(want, have []int) []int {
	var out []int
	for _, c := range want {
		if _, ok := slices.BinarySearch(have, c); !ok {
			out = append(out, c)
		}
	}
	return out
}
