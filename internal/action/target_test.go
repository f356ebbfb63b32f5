package action

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnetpath/vnetpath/internal/discovery"
)

// fakeVMs is a VMFinder over a fixed list, counting lookups.
type fakeVMs struct {
	vms     []discovery.VM
	queries []VMQuery
}

func (f *fakeVMs) FindVM(q VMQuery) (discovery.VM, error) {
	f.queries = append(f.queries, q)
	for _, vm := range f.vms {
		if (q.PID > 0 && vm.PID == q.PID) || (q.PID == 0 && vm.Name == q.Name) {
			return vm, nil
		}
	}
	return discovery.VM{}, Refuse("no VMM named %q", q.Name)
}

func event(attrs ...string) *Event {
	ev := testEvent
	ev.Group = nil
	for i := 0; i+1 < len(attrs); i += 2 {
		ev.Group = append(ev.Group, Attribute{attrs[i], attrs[i+1]})
	}
	return &ev
}

func TestResolveVM(t *testing.T) {
	vms := &fakeVMs{vms: []discovery.VM{{Name: "web-1", PID: 4711, Workers: []discovery.Thread{{TID: 4712, Name: "vhost-4711"}}}}}

	// process.pid in the group: no discovery needed.
	tg, err := resolveVM(event("vm.name", "web-1", "process.pid", "4711"), vms, nil)
	require.NoError(t, err)
	assert.Equal(t, Target{VM: "web-1", PID: 4711, Key: "vm:web-1"}, tg)
	assert.Empty(t, vms.queries)

	// vm.name only: discovery by name.
	tg, err = resolveVM(event("vm.name", "web-1", "network.interface.name", "vnet3"), vms, nil)
	require.NoError(t, err)
	assert.Equal(t, 4711, tg.PID)
	assert.Equal(t, "vhost-4711", tg.workers[0].Name)
	assert.Equal(t, []VMQuery{{Name: "web-1"}}, vms.queries)

	// The pid is known but the workers are needed: discovery by pid.
	tg, err = resolveVM(event("process.pid", "4711"), vms, []string{"vhost-*"})
	require.NoError(t, err)
	assert.Equal(t, "web-1", tg.VM, "the name comes from discovery")
	assert.Equal(t, VMQuery{PID: 4711, WorkerGlobs: []string{"vhost-*"}}, vms.queries[1])
}

func TestResolveVMRefused(t *testing.T) {
	vms := &fakeVMs{}
	for _, tc := range []struct {
		ev   *Event
		want string
	}{
		{event("network.interface.name", "vnet3"), "refused: the group has neither process.pid nor vm.name; add one to the indicator's group_by"},
		{event("process.pid", "x"), `refused: process.pid "x" is not a process id`},
		{event("process.pid", "-4"), `refused: process.pid "-4" is not a process id`},
		{event("vm.name", "db-9"), `refused: no VMM named "db-9"`},
	} {
		_, err := resolveVM(tc.ev, vms, nil)
		assert.EqualError(t, err, tc.want)
		assert.Equal(t, Refused, Classify(t.Context(), err))
	}
}

func vmList(name string, pid int) []discovery.VM {
	return []discovery.VM{{Name: name, PID: pid, Comm: "qemu-system-x86", Taps: []string{"vnet3"}}}
}
