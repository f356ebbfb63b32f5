package action

import (
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap/zapcore"

	"github.com/vnetpath/vnetpath/internal/discovery"
)

// Group attributes that name what an action acts on.
const (
	AttrVMName    = "vm.name"
	AttrPID       = "process.pid"
	AttrInterface = "network.interface.name"
)

// Target is what an action acts on, as far as it was resolved.
type Target struct {
	VM        string // vm.name
	PID       int    // the VMM's process id
	Interface string // network.interface.name
	Netns     string // the interface's network namespace path; "" is the collector's
	Socket    string // a QMP monitor socket
	// Key identifies the target for the per-target rate limit.
	Key string
	// workers are the VMM's worker threads, for affinity.
	workers []discovery.Thread
	// args are an exec action's rendered arguments.
	args []string
}

// MarshalLogObject writes the fields that are known.
func (t Target) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if t.VM != "" {
		enc.AddString(AttrVMName, t.VM)
	}
	if t.PID != 0 {
		enc.AddInt(AttrPID, t.PID)
	}
	if t.Interface != "" {
		enc.AddString(AttrInterface, t.Interface)
	}
	if t.Netns != "" {
		enc.AddString("netns", t.Netns)
	}
	if t.Socket != "" {
		enc.AddString("socket", t.Socket)
	}
	return nil
}

// VMQuery asks for one VMM: by PID when it is set, else by name.
type VMQuery struct {
	Name string
	PID  int
	// WorkerGlobs select its worker threads; nil means vhost-*.
	WorkerGlobs []string
}

// VMFinder finds the VMM of an event's group.
type VMFinder interface {
	FindVM(q VMQuery) (discovery.VM, error)
}

// ScanFinder finds VMMs with a /proc scan (internal/discovery).
type ScanFinder struct {
	// Proc is the proc root; "" is /proc.
	Proc string
}

// FindVM scans the proc root. A VM that is not found, or whose name is
// not unique, is a refusal: there is nothing safe to act on.
func (f ScanFinder) FindVM(q VMQuery) (discovery.VM, error) {
	s := discovery.Scanner{Proc: f.Proc, WorkerGlobs: q.WorkerGlobs}
	vms, _, err := s.Scan()
	if err != nil {
		return discovery.VM{}, fmt.Errorf("find VMM: %w", err)
	}
	var found []discovery.VM
	for _, vm := range vms {
		if (q.PID > 0 && vm.PID == q.PID) || (q.PID == 0 && vm.Name == q.Name) {
			found = append(found, vm)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return discovery.VM{}, Refuse("%d VMM processes are named %q", len(found), q.Name)
	case q.PID > 0:
		return discovery.VM{}, Refuse("process %d holds no tap: not a VMM", q.PID)
	default:
		return discovery.VM{}, Refuse("no VMM process named %q", q.Name)
	}
}

// groupPID reads process.pid from the group: 0 when absent.
func groupPID(ev *Event) (int, error) {
	s := ev.GroupValue(AttrPID)
	if s == "" {
		return 0, nil
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, Refuse("%s %q is not a process id", AttrPID, s)
	}
	return pid, nil
}

// resolveVM finds the VM of the event's group: process.pid from the group
// when it has one, else discovery by vm.name. With workerGlobs, discovery
// runs even when the pid is known, for the VM's worker threads.
func resolveVM(ev *Event, finder VMFinder, workerGlobs []string) (Target, error) {
	name := ev.GroupValue(AttrVMName)
	pid, err := groupPID(ev)
	if err != nil {
		return Target{VM: name}, err
	}
	if pid == 0 && name == "" {
		return Target{}, Refuse("the group has neither %s nor %s; add one to the indicator's group_by", AttrPID, AttrVMName)
	}
	t := Target{VM: name, PID: pid}
	if pid > 0 && workerGlobs == nil {
		t.Key = vmKey(t)
		return t, nil
	}
	vm, err := finder.FindVM(VMQuery{Name: name, PID: pid, WorkerGlobs: workerGlobs})
	if err != nil {
		return t, err
	}
	t.PID, t.workers = vm.PID, vm.Workers
	if t.VM == "" {
		t.VM = vm.Name
	}
	t.Key = vmKey(t)
	return t, nil
}

// groupTarget is the target of an action that acts on the group as a
// whole (webhook, exec): rate-limited per trigger and group.
func groupTarget(ev *Event) Target {
	return Target{VM: ev.GroupValue(AttrVMName), Interface: ev.GroupValue(AttrInterface), Key: groupKey(ev)}
}

// groupKey identifies the event's trigger and group.
func groupKey(ev *Event) string {
	var b strings.Builder
	b.WriteString(ev.Trigger)
	for _, a := range ev.Group {
		b.WriteString("\x00" + a.Key + "=" + a.Value)
	}
	return b.String()
}

// vmKey rate-limits a VM by name when it has one, so that a VMM that
// restarts under a new pid is still the same target.
func vmKey(t Target) string {
	if t.VM != "" {
		return "vm:" + t.VM
	}
	return "pid:" + strconv.Itoa(t.PID)
}
