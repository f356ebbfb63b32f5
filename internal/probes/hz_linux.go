//go:build linux

package probes

import (
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// KernelHZ measures the kernel's tick rate (CONFIG_HZ) from jiffies, as a
// BPF program sees them: programs that budget per second by jiffies, which
// cost nothing to read where a clock read costs tens of ns, need it.
func KernelHZ() (int, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.RawTracepoint,
		License:      "GPL",
		Instructions: asm.Instructions{asm.FnJiffies64.Call(), asm.Return()},
	})
	if err != nil {
		return 0, fmt.Errorf("load jiffies reader: %w", err)
	}
	defer prog.Close()
	read := func() (uint32, time.Time, error) {
		ret, err := prog.Run(&ebpf.RunOptions{})
		return ret, time.Now(), err
	}
	j0, t0, err := read()
	if err != nil {
		return 0, fmt.Errorf("run jiffies reader: %w", err)
	}
	time.Sleep(200 * time.Millisecond)
	j1, t1, err := read()
	if err != nil {
		return 0, fmt.Errorf("run jiffies reader: %w", err)
	}
	rate := float64(j1-j0) / t1.Sub(t0).Seconds()
	best := 0
	for _, hz := range []int{100, 250, 300, 1000} {
		if best == 0 || abs(rate-float64(hz)) < abs(rate-float64(best)) {
			best = hz
		}
	}
	return best, nil
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
