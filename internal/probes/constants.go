package probes

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// defaultConstants are the programs' settings (VNET_CONST in bpf/vnet.h)
// and their values when Options.Constants does not set them.
var defaultConstants = map[string]uint64{
	"all_devices":         0,
	"ring_sample_mask":    0,
	"softirq_sample_mask": 0,
	"trace_key0":          0,
	"trace_key1":          0,
	"trace_threshold":     0,
	"trace_all":           0,
	"trace_drops":         1,
	"trace_drops_per_sec": 1000,
	"trace_hz":            250,
}

// setConstants writes each setting a program uses into the instruction
// that loads it. A setting no table knows is an error: it would load as 0.
func setConstants(cs *ebpf.CollectionSpec, values map[string]any) error {
	for _, ps := range cs.Programs {
		for i := range ps.Instructions {
			ins := &ps.Instructions[i]
			name := ins.Reference()
			// Map, function and kernel symbol references carry a source
			// register; an inline asm symbol is a plain 64-bit immediate.
			if name == "" || !ins.IsConstantLoad(asm.DWord) {
				continue
			}
			v, err := constantValue(name, values)
			if err != nil {
				return fmt.Errorf("program %s: %w", ps.Name, err)
			}
			ins.Constant = int64(v)
		}
	}
	return nil
}

func constantValue(name string, values map[string]any) (uint64, error) {
	v, ok := values[name]
	if !ok {
		d, known := defaultConstants[name]
		if !known {
			return 0, fmt.Errorf("unknown constant %q", name)
		}
		return d, nil
	}
	switch v := v.(type) {
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case uint64:
		return v, nil
	case uint32:
		return uint64(v), nil
	case int:
		if v < 0 {
			return 0, fmt.Errorf("constant %s: negative value %d", name, v)
		}
		return uint64(v), nil
	default:
		return 0, fmt.Errorf("constant %s: unsupported type %T", name, v)
	}
}
