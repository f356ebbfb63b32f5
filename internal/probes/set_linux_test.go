//go:build linux

package probes

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

// loadedIDs lists the IDs of every BPF program loaded in the kernel.
func loadedIDs(t *testing.T) []ebpf.ProgramID {
	t.Helper()
	var ids []ebpf.ProgramID
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return ids
		}
		if err != nil {
			t.Fatalf("iterate programs: %v", err)
		}
		ids = append(ids, next)
		id = next
	}
}

func TestOpenAttachesAndCloseUnloads(t *testing.T) {
	testenv.RequireRoot(t)
	set := Open(zap.NewNop(), Options{Groups: append(Names(Host), Trace)})
	t.Cleanup(func() { _ = set.Close() })

	for _, st := range set.Status() {
		if !st.Active {
			t.Fatalf("group %s disabled: %s", st.Group, st.Reason)
		}
	}
	var ours []ebpf.ProgramID
	for name, p := range set.Programs() {
		info, err := p.Info()
		if err != nil {
			t.Fatalf("info %s: %v", name, err)
		}
		id, ok := info.ID()
		if !ok {
			t.Fatalf("no id for %s", name)
		}
		if !strings.HasPrefix(info.Name, "vnet_") {
			t.Errorf("program %s has kernel name %q, want the vnet_ prefix", name, info.Name)
		}
		ours = append(ours, id)
	}
	if want := 28; len(ours) != want {
		t.Fatalf("loaded %d programs, want %d", len(ours), want)
	}
	// Missed lists every primary once and no twin (three on kfree_skb).
	missed, err := set.Missed()
	if err != nil {
		t.Fatalf("missed: %v", err)
	}
	if want := 28 - 3; len(missed) != want {
		t.Fatalf("missed lists %d programs, want %d", len(missed), want)
	}
	for _, m := range missed {
		if isTwin(m.Program) || set.Programs()[m.Program] == nil {
			t.Errorf("missed lists %s/%s, not a primary of the set", m.Group, m.Program)
		}
	}
	before := loadedIDs(t)
	for _, id := range ours {
		if !slices.Contains(before, id) {
			t.Fatalf("program %d not listed by the kernel while loaded", id)
		}
	}

	if err := set.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// The kernel frees a detached program after an RCU grace period.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := slices.DeleteFunc(slices.Clone(ours), func(id ebpf.ProgramID) bool { return !slices.Contains(loadedIDs(t), id) })
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("programs %v still loaded 5s after Close", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNonDefaultConstantsLoad: constants change which branches the verifier
// walks, so every group must also load with them set.
func TestNonDefaultConstantsLoad(t *testing.T) {
	testenv.RequireRoot(t)
	set := Open(zap.NewNop(), Options{
		Groups:    append(Names(Host), Trace),
		Constants: map[string]any{"all_devices": true, "ring_sample_mask": uint64(15), "softirq_sample_mask": uint64(7), "trace_all": true, "trace_drops": false},
		MapSizes:  map[string]uint32{"ring_inflight": 128, "drop_counts": 64},
	})
	t.Cleanup(func() { _ = set.Close() })
	for _, st := range set.Status() {
		if !st.Active {
			t.Errorf("group %s disabled: %s", st.Group, st.Reason)
		}
	}
	if got := set.Group(Ring).Map("ring_inflight").MaxEntries(); got != 128 {
		t.Errorf("ring_inflight sized %d, want 128", got)
	}
}

func TestMissingHookDisablesOnlyItsGroup(t *testing.T) {
	testenv.RequireRoot(t)
	core, logs := observer.New(zap.InfoLevel)
	set := Open(zap.New(core), Options{Groups: Names(Host), HookRenames: map[string]string{"softirq_exit": "vnet_no_such_tracepoint"}})
	t.Cleanup(func() { _ = set.Close() })

	st := set.Status()
	if len(st) != len(Names(Host)) {
		t.Fatalf("status has %d groups, want %d", len(st), len(Names(Host)))
	}
	for _, s := range st {
		switch s.Group {
		case Softirq:
			if s.Active || !strings.Contains(s.Reason, "tracepoint vnet_no_such_tracepoint: hook not found") {
				t.Errorf("softirq: active=%v reason=%q", s.Active, s.Reason)
			}
		default:
			if !s.Active {
				t.Errorf("group %s disabled: %s", s.Group, s.Reason)
			}
		}
	}
	if set.Group(Softirq) != nil {
		t.Error("disabled group is still reachable")
	}
	entries := logs.FilterMessage("Probe group disabled").All()
	if len(entries) != 1 || entries[0].ContextMap()["group"] != Softirq {
		t.Errorf("want one log line for softirq, got %v", entries)
	}
}

func TestValidateNames(t *testing.T) {
	if err := ValidateNames(Host, Names(Host)); err != nil {
		t.Fatalf("known names refused: %v", err)
	}
	err := ValidateNames(Host, []string{"softirq", "bogus", "trace"})
	want := `unknown probe group "bogus"; allowed: softirq, napi, devices, drops, ring, workers, kvm` + "\n" +
		`unknown probe group "trace"; allowed: softirq, napi, devices, drops, ring, workers, kvm`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
	if got := Names(Guest); !slices.Equal(got, []string{Drops, TCP}) {
		t.Errorf("guest groups %v", got)
	}
}

func TestGuestGroupsLoad(t *testing.T) {
	testenv.RequireRoot(t)
	set := Open(zap.NewNop(), Options{Kind: Guest, Groups: append(Names(Guest), Trace)})
	t.Cleanup(func() { _ = set.Close() })
	if len(set.Status()) != 3 {
		t.Fatalf("status %v", set.Status())
	}
	for _, st := range set.Status() {
		if !st.Active {
			t.Errorf("guest group %s disabled: %s", st.Group, st.Reason)
		}
	}
}

// TestNoKernelBTF: without the kernel's BTF no tp_btf or raw_tp hook can be
// found, and the reason says what is missing.
func TestNoKernelBTF(t *testing.T) {
	spec, err := loadSoftirq()
	if err != nil {
		t.Fatal(err)
	}
	h := &hookFinder{err: errors.New("open /sys/kernel/btf/vmlinux: no such file or directory")}
	for name, ps := range spec.Programs {
		err := h.check(ps)
		if err == nil || !strings.Contains(err.Error(), "kernel BTF unavailable (tp_btf needs /sys/kernel/btf/vmlinux): open /sys/kernel/btf/vmlinux") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestTwinsAttachLast: a hook runs its programs in attach order, and a twin
// must run after its primary.
func TestTwinsAttachLast(t *testing.T) {
	progs := map[string]*ebpf.Program{"b_nested": nil, "a": nil, "c": nil, "a_nested": nil, "b": nil}
	if got, want := attachOrder(progs), []string{"a", "b", "c", "a_nested", "b_nested"}; !slices.Equal(got, want) {
		t.Fatalf("attach order %v, want %v", got, want)
	}
}
