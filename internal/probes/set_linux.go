//go:build linux

package probes

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"go.uber.org/zap"
)

// Group is a loaded and attached probe group.
type Group struct {
	name     string
	coll     *ebpf.Collection
	links    []link.Link
	attached []string // program names, in attach order
}

// Map returns one of the group's maps, or nil if the group has none by that name.
func (g *Group) Map(name string) *ebpf.Map { return g.coll.Maps[name] }

// Set holds the probe groups of one receiver.
type Set struct {
	groups map[string]*Group
	status []Status
	once   sync.Once
}

// Open detects, loads and attaches the selected groups. It never fails as a
// whole: a group that cannot run is reported in Status and logged once.
func Open(logger *zap.Logger, opts Options) *Set {
	s := &Set{groups: map[string]*Group{}}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	memlockErr := rlimit.RemoveMemlock()
	kernel := newHookFinder()
	for _, spec := range registry[opts.Kind] {
		if !slices.Contains(opts.Groups, spec.name) {
			continue
		}
		g, err := openGroup(spec, opts, kernel)
		if err != nil {
			if memlockErr != nil {
				err = fmt.Errorf("%w (removing the memlock limit failed too: %v)", err, memlockErr)
			}
			reason := explain(err)
			s.status = append(s.status, Status{Group: spec.name, Reason: reason})
			logger.Warn("Probe group disabled", zap.String("group", spec.name), zap.String("reason", reason))
			continue
		}
		s.groups[spec.name] = g
		s.status = append(s.status, Status{Group: spec.name, Active: true})
	}
	return s
}

// Group returns an attached group, or nil if it is not running.
func (s *Set) Group(name string) *Group { return s.groups[name] }

// Status reports every selected group.
func (s *Set) Status() []Status { return slices.Clone(s.status) }

// Programs returns the attached programs by name, for statistics and tests.
func (s *Set) Programs() map[string]*ebpf.Program {
	progs := map[string]*ebpf.Program{}
	for _, g := range s.groups {
		for name, p := range g.coll.Programs {
			progs[name] = p
		}
	}
	return progs
}

// Close detaches every link and unloads every program and map.
func (s *Set) Close() error {
	var errs []error
	s.once.Do(func() {
		for _, g := range s.groups {
			errs = append(errs, g.close())
		}
		s.groups = nil
	})
	return errors.Join(errs...)
}

func (g *Group) close() error {
	var errs []error
	for _, l := range g.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach %s: %w", g.name, err))
		}
	}
	g.coll.Close()
	return errors.Join(errs...)
}

func openGroup(spec groupSpec, opts Options, kernel *hookFinder) (*Group, error) {
	cs, err := spec.load()
	if err != nil {
		return nil, fmt.Errorf("read embedded object: %w", err)
	}
	for name, size := range opts.MapSizes {
		if ms, ok := cs.Maps[name]; ok {
			ms.MaxEntries = size
		}
	}
	if err := setConstants(cs, opts.Constants); err != nil {
		return nil, err
	}
	for _, ps := range cs.Programs {
		if renamed, ok := opts.HookRenames[ps.AttachTo]; ok {
			ps.AttachTo = renamed
		}
		if err := kernel.check(ps); err != nil {
			return nil, err
		}
	}
	coll, err := ebpf.NewCollection(cs)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	g := &Group{name: spec.name, coll: coll}
	for _, name := range attachOrder(coll.Programs) {
		// A twin goes with its primary.
		if slices.Contains(opts.Unattached, strings.TrimSuffix(name, nestedSuffix)) {
			continue
		}
		l, err := attach(coll.Programs[name], cs.Programs[name])
		if err != nil {
			_ = g.close()
			return nil, fmt.Errorf("attach %s to %s: %w", name, cs.Programs[name].AttachTo, err)
		}
		g.links = append(g.links, l)
		g.attached = append(g.attached, name)
	}
	return g, nil
}

// nestedSuffix names a twin program, which runs its primary's body for the
// events the kernel skips the primary for (bpf/vnet.h, struct vnet_nest).
const nestedSuffix = "_nested"

// attachOrder lists the programs with every twin after the primaries: a
// hook runs its programs in attach order, and a twin must run after its
// primary to see what the primary did for the same event.
func attachOrder(progs map[string]*ebpf.Program) []string {
	names := slices.Sorted(maps.Keys(progs))
	twins := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !isTwin(n) })
	return append(slices.DeleteFunc(names, isTwin), twins...)
}

func isTwin(name string) bool { return strings.HasSuffix(name, nestedSuffix) }

func attach(prog *ebpf.Program, ps *ebpf.ProgramSpec) (link.Link, error) {
	switch {
	case ps.Type == ebpf.Tracing && ps.AttachType == ebpf.AttachTraceRawTp:
		return link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	case ps.Type == ebpf.RawTracepoint:
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: ps.AttachTo, Program: prog})
	default:
		return nil, fmt.Errorf("unsupported program type %s/%s", ps.Type, ps.AttachType)
	}
}

// hookFinder answers whether the running kernel has a hook, from the BTF
// of vmlinux and, for tracepoints of modules such as kvm, of the modules.
type hookFinder struct {
	spec    *btf.Spec
	err     error
	modules []*btf.Spec // loaded on the first miss in vmlinux
}

func newHookFinder() *hookFinder {
	spec, err := btf.LoadKernelSpec()
	return &hookFinder{spec: spec, err: err}
}

func (h *hookFinder) has(name string) bool {
	var fn *btf.Typedef
	if h.spec.TypeByName(name, &fn) == nil {
		return true
	}
	if h.modules == nil {
		h.modules = loadModuleSpecs()
	}
	for _, m := range h.modules {
		if m.TypeByName(name, &fn) == nil {
			return true
		}
	}
	return false
}

func loadModuleSpecs() []*btf.Spec {
	entries, _ := os.ReadDir("/sys/kernel/btf")
	specs := []*btf.Spec{}
	for _, e := range entries {
		if e.Name() == "vmlinux" {
			continue
		}
		if spec, err := btf.LoadKernelModuleSpec(e.Name()); err == nil {
			specs = append(specs, spec)
		}
	}
	return specs
}

// errMissingHook marks a hook the kernel does not have.
var errMissingHook = errors.New("hook not found in this kernel")

// check finds the tracepoint of a tp_btf or raw_tp program; both kinds
// name it in their section and the kernel's BTF lists it.
func (h *hookFinder) check(ps *ebpf.ProgramSpec) error {
	if ps.Type != ebpf.RawTracepoint && (ps.Type != ebpf.Tracing || ps.AttachType != ebpf.AttachTraceRawTp) {
		return nil
	}
	if h.err != nil {
		return fmt.Errorf("kernel BTF unavailable (tp_btf needs /sys/kernel/btf/vmlinux): %w", h.err)
	}
	if !h.has("btf_trace_" + ps.AttachTo) {
		return fmt.Errorf("tracepoint %s: %w", ps.AttachTo, errMissingHook)
	}
	return nil
}

// explain turns a load error into a reason an operator can act on.
func explain(err error) string {
	var verr *ebpf.VerifierError
	switch {
	case errors.As(err, &verr) && len(verr.Log) > 0:
		// The last lines of the verifier log carry the rejection.
		return "rejected by the verifier: " + strings.Join(lastLines(verr.Log, 3), " | ")
	case errors.Is(err, os.ErrPermission):
		return "permission denied: run as root, or grant CAP_BPF and CAP_PERFMON (" + err.Error() + ")"
	default:
		return err.Error()
	}
}

func lastLines(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
