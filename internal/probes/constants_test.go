package probes

import (
	"maps"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
)

// constantLoads returns, by program, the value each setting loads as.
func constantLoads(cs *ebpf.CollectionSpec) map[string]map[string]uint64 {
	out := map[string]map[string]uint64{}
	for name, ps := range cs.Programs {
		for _, ins := range ps.Instructions {
			if ref := ins.Reference(); ref != "" && ins.IsConstantLoad(asm.DWord) {
				if out[name] == nil {
					out[name] = map[string]uint64{}
				}
				out[name][ref] = uint64(ins.Constant)
			}
		}
	}
	return out
}

// TestEverySettingIsKnownAndUsed: every VNET_CONST a program names has a
// default, and every default is named by some program.
func TestEverySettingIsKnownAndUsed(t *testing.T) {
	used := map[string]bool{}
	for _, kind := range []Kind{Host, Guest} {
		for _, g := range registry[kind] {
			cs, err := g.load()
			require.NoError(t, err)
			require.NoError(t, setConstants(cs, nil), g.name)
			for prog, loads := range constantLoads(cs) {
				for name, v := range loads {
					require.Equal(t, defaultConstants[name], v, "%s in %s", name, prog)
					used[name] = true
				}
			}
		}
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(defaultConstants)), slices.Collect(maps.Keys(used)))
}

func TestSettingsLandInTheirInstructions(t *testing.T) {
	cs, err := loadTraceHost()
	require.NoError(t, err)
	require.NoError(t, setConstants(cs, map[string]any{
		"trace_threshold": uint64(1) << 60, "trace_all": true, "trace_drops": false, "trace_hz": uint32(1000), "trace_key0": 7,
	}))
	loads := constantLoads(cs)
	// The hash's key in every program that hashes a flow, the rest where read.
	require.Equal(t, map[string]uint64{"trace_key0": 7, "trace_key1": 0, "trace_threshold": 1 << 60, "trace_all": 1, "trace_drops": 0},
		pick(loads["vnet_trace_queue"], "trace_key0", "trace_key1", "trace_threshold", "trace_all", "trace_drops"))
	require.Equal(t, uint64(1000), loads["vnet_trace_drop"]["trace_hz"])
	require.Equal(t, uint64(1000), loads["vnet_trace_drop"]["trace_drops_per_sec"], "default")
}

func TestBadSettingsAreRefused(t *testing.T) {
	cs, err := loadRing()
	require.NoError(t, err)
	require.ErrorContains(t, setConstants(cs, map[string]any{"ring_sample_mask": -1}), "ring_sample_mask: negative value -1")
	require.ErrorContains(t, setConstants(cs, map[string]any{"ring_sample_mask": "15"}), "ring_sample_mask: unsupported type string")

	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"p": {
		Name: "p",
		Instructions: asm.Instructions{
			asm.LoadImm(asm.R0, 0, asm.DWord).WithReference("no_such_setting"),
			asm.Return(),
		},
	}}}
	require.EqualError(t, setConstants(spec, nil), `program p: unknown constant "no_such_setting"`)
}

func pick(m map[string]uint64, names ...string) map[string]uint64 {
	out := map[string]uint64{}
	for _, n := range names {
		if v, ok := m[n]; ok {
			out[n] = v
		}
	}
	return out
}
