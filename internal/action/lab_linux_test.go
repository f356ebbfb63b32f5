//go:build linux

package action

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
)

// TestRemediationsOnLabVM finds the lab's VMM through a /proc scan by
// vm.name, as in production, and acts on it: its worker thread pinned to
// one CPU, one SIGUSR1 counted by the VMM, its tap's txqueuelen raised in
// the collector's own network namespace.
func TestRemediationsOnLabVM(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{TxQueueLen: 64})
	vm := lab.VM(0)
	ev := *event("vm.name", vm.Name, "network.interface.name", vm.HostTap)
	ctx := context.Background()
	create := func(f Factory, settings map[string]any) Action {
		a, err := f.Create(Settings{Logger: zap.NewNop()}, settings)
		require.NoError(t, err)
		return a
	}

	online, err := onlineCPUs()
	require.NoError(t, err)
	cpu := strconv.Itoa(online[len(online)-1])
	res, err := create(AffinityFactory{}, map[string]any{"cpus": cpu}).Fire(ctx, ev)
	require.NoError(t, err)
	assert.Equal(t, vm.PID, res.Target.PID)
	assert.Equal(t, "threads "+strconv.Itoa(vm.WorkerTID), res.Detail)
	mask, err := threadAffinity(vm.WorkerTID)
	require.NoError(t, err)
	assert.Equal(t, []int{online[len(online)-1]}, mask)

	res, err = create(SignalFactory{}, map[string]any{"allowed_process_names": []any{"vnetlab-vmm"}}).Fire(ctx, ev)
	require.NoError(t, err)
	assert.Equal(t, "comm vnetlab-vmm", res.Detail)
	// The VMM counts signals on a goroutine of its own.
	require.Eventually(t, func() bool {
		st, err := vm.Control.Stats()
		return err == nil && st.SIGUSR1 == 1
	}, 5*time.Second, 5*time.Millisecond)

	res, err = create(TxQueueLenFactory{}, map[string]any{"multiply": 4}).Fire(ctx, ev)
	require.NoError(t, err)
	assert.Equal(t, [2]string{"64", "256"}, [2]string{res.Old, res.New})
	n, err := vm.TxQueueLen()
	require.NoError(t, err)
	assert.Equal(t, 256, n)
}
