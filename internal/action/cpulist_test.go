package action

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"0":         {0},
		"0-1,3":     {0, 1, 3},
		"3,0-1":     {0, 1, 3},
		"0-3,2-5":   {0, 1, 2, 3, 4, 5},
		" 1 \n":     {1},
		"1023":      {1023},
		"8-8":       {8},
		"0,2,4-6,9": {0, 2, 4, 5, 6, 9},
	} {
		got, err := ParseCPUList(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	assert.Equal(t, "0-1,3", FormatCPUList([]int{0, 1, 3}))
	assert.Equal(t, "0,2,4-6,9", FormatCPUList([]int{0, 2, 4, 5, 6, 9}))
	assert.Equal(t, "", FormatCPUList(nil))
}

func TestCPUListRefused(t *testing.T) {
	for in, want := range map[string]string{
		"":      "cpu list: empty",
		"a":     `"a" is not a CPU number in [0, 1024)`,
		"1-":    `"" is not a CPU number in [0, 1024)`,
		"-1":    `"" is not a CPU number in [0, 1024)`,
		"3-1":   "range 3-1 is backwards",
		"1024":  `"1024" is not a CPU number in [0, 1024)`,
		"0,,1":  `"" is not a CPU number in [0, 1024)`,
		"01":    `"01" is not a CPU number in [0, 1024)`,
		"+1":    `"+1" is not a CPU number in [0, 1024)`,
		"1-2-3": `"2-3" is not a CPU number in [0, 1024)`,
		"0x1":   `"0x1" is not a CPU number in [0, 1024)`,
	} {
		_, err := ParseCPUList(in)
		assert.ErrorContains(t, err, want, in)
	}
	assert.Equal(t, []int{2, 5}, missingCPUs([]int{0, 2, 5}, []int{0, 1, 3}))
}

func FuzzCPUList(f *testing.F) {
	for _, s := range []string{"0", "0-1,3", "0-1023", "5,4,3", "1-", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := ParseCPUList(s)
		if err != nil {
			return
		}
		if len(cpus) == 0 || !slices.IsSorted(cpus) || len(slices.Compact(slices.Clone(cpus))) != len(cpus) {
			t.Fatalf("%q: %v is not sorted and unique", s, cpus)
		}
		if cpus[0] < 0 || cpus[len(cpus)-1] >= maxCPUs {
			t.Fatalf("%q: %v out of range", s, cpus)
		}
		again, err := ParseCPUList(FormatCPUList(cpus))
		if err != nil || !slices.Equal(again, cpus) {
			t.Fatalf("%q: %v formats to %q, which parses to %v, %v", s, cpus, FormatCPUList(cpus), again, err)
		}
	})
}
