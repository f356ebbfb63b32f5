// Package kbtf names kernel enum values (drop reasons, softirq vectors) as
// the running kernel defines them. The numbers move between kernel versions
// (FULL_RING is 80 on 6.18 and 55 on 6.1), so names are read at start from
// the kernel's BTF, with the tracepoint format file as the fallback.
package kbtf

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Names maps enum values to names without their common prefix or suffix.
type Names map[uint64]string

// Name returns the name of v, or a stable placeholder for values this
// kernel's enum does not list.
func (n Names) Name(v uint64) string {
	if s, ok := n[v]; ok {
		return s
	}
	return fmt.Sprintf("UNKNOWN_%d", v)
}

// Source says where names come from; tests point it at fixtures.
type Source struct {
	// Kernel loads the kernel's BTF; nil means btf.LoadKernelSpec.
	Kernel func() (*btf.Spec, error)
	// TraceFS is the tracefs mount, for the format-file fallback.
	TraceFS string
}

// DefaultSource reads the running kernel.
func DefaultSource() Source {
	return Source{Kernel: btf.LoadKernelSpec, TraceFS: "/sys/kernel/tracing"}
}

// DropReasons names `enum skb_drop_reason` values, e.g. 80 -> FULL_RING.
func (s Source) DropReasons() (Names, error) {
	return s.names("skb_drop_reason", "SKB_DROP_REASON_", "", "skb/kfree_skb", "reason")
}

// SoftirqVectors names softirq vectors, e.g. 3 -> NET_RX.
func (s Source) SoftirqVectors() (Names, error) {
	// The softirq enum is anonymous; NR_SOFTIRQS identifies it.
	return s.names("", "", "_SOFTIRQ", "irq/softirq_entry", "vec")
}

func (s Source) names(enum, prefix, suffix, event, field string) (Names, error) {
	btfNames, btfErr := s.fromBTF(enum, prefix, suffix)
	if btfErr == nil {
		return btfNames, nil
	}
	raw, err := os.ReadFile(s.TraceFS + "/events/" + event + "/format")
	if err != nil {
		return nil, errors.Join(btfErr, fmt.Errorf("read %s format: %w", event, err))
	}
	fmtNames, err := ParsePrintSymbolic(string(raw), field)
	if err != nil {
		return nil, errors.Join(btfErr, fmt.Errorf("parse %s format: %w", event, err))
	}
	return fmtNames, nil
}

func (s Source) fromBTF(enum, prefix, suffix string) (Names, error) {
	if s.Kernel == nil {
		return nil, errors.New("no kernel BTF source")
	}
	spec, err := s.Kernel()
	if err != nil {
		return nil, fmt.Errorf("load kernel BTF: %w", err)
	}
	e, err := findEnum(spec, enum)
	if err != nil {
		return nil, err
	}
	names := Names{}
	for _, v := range e.Values {
		if !strings.HasPrefix(v.Name, prefix) || !strings.HasSuffix(v.Name, suffix) {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(v.Name, prefix), suffix)
		if _, dup := names[v.Value]; !dup {
			names[v.Value] = name
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("enum %q has no %s*%s values", enum, prefix, suffix)
	}
	return names, nil
}

func findEnum(spec *btf.Spec, name string) (*btf.Enum, error) {
	if name != "" {
		var e *btf.Enum
		if err := spec.TypeByName(name, &e); err != nil {
			return nil, fmt.Errorf("enum %s: %w", name, err)
		}
		return e, nil
	}
	for typ, err := range spec.All() {
		if err != nil {
			return nil, fmt.Errorf("iterate BTF: %w", err)
		}
		e, ok := typ.(*btf.Enum)
		if !ok || e.Name != "" {
			continue
		}
		for _, v := range e.Values {
			if v.Name == "NR_SOFTIRQS" {
				return e, nil
			}
		}
	}
	return nil, errors.New("softirq enum (NR_SOFTIRQS) not found")
}
