//go:build linux

package action

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/discovery"
)

// lockedThread runs a goroutine on a thread of its own until the test
// ends and returns its TID: a worker thread to pin.
func lockedThread(t *testing.T) int {
	t.Helper()
	tid, stop := make(chan int), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		tid <- unix.Gettid()
		<-stop
	}()
	t.Cleanup(func() { close(stop) })
	return <-tid
}

// The VM's worker threads are pinned to the CPU list; the old masks are
// recorded per thread.
func TestAffinityPinsWorkers(t *testing.T) {
	online, err := onlineCPUs()
	require.NoError(t, err)
	w1, w2 := lockedThread(t), lockedThread(t)
	vms := &fakeVMs{vms: []discovery.VM{{Name: "web-1", PID: os.Getpid(), Workers: []discovery.Thread{
		{TID: w1, Name: "vhost-1"}, {TID: w2, Name: "vhost-1"},
	}}}}
	a := newAffinity(t, vms, strconv.Itoa(online[0]))
	before, err := threadAffinity(w1)
	require.NoError(t, err)
	ev := *event("vm.name", "web-1")

	dry := ev
	dry.DryRun = true
	res, err := a.Fire(context.Background(), dry)
	require.NoError(t, err)
	assert.Equal(t, DryRun, res.Outcome)
	after, err := threadAffinity(w1)
	require.NoError(t, err)
	assert.Equal(t, before, after, "a dry run pins nothing")

	res, err = newAffinity(t, vms, strconv.Itoa(online[0])).Fire(context.Background(), ev)
	require.NoError(t, err)
	mask := FormatCPUList(before)
	assert.Equal(t, strconv.Itoa(w1)+":"+mask+" "+strconv.Itoa(w2)+":"+mask, res.Old)
	assert.Equal(t, strconv.Itoa(online[0]), res.New)
	assert.Equal(t, "threads "+strconv.Itoa(w1)+","+strconv.Itoa(w2), res.Detail)
	for _, tid := range []int{w1, w2} {
		got, err := threadAffinity(tid)
		require.NoError(t, err)
		assert.Equal(t, []int{online[0]}, got)
	}
	assert.Equal(t, []string{"vhost-*"}, vms.queries[len(vms.queries)-1].WorkerGlobs)
}

func newAffinity(t *testing.T, vms VMFinder, cpus string) Action {
	t.Helper()
	a, err := AffinityFactory{}.Create(Settings{Logger: zap.NewNop(), VMs: vms}, map[string]any{"cpus": cpus})
	require.NoError(t, err)
	return a
}

func TestAffinityRefusals(t *testing.T) {
	_, err := AffinityFactory{}.Create(Settings{Logger: zap.NewNop()}, map[string]any{"cpus": "1023"})
	assert.ErrorContains(t, err, "cpus: refused: CPUs 1023 are not online")
	assert.EqualError(t, AffinityFactory{}.Validate(map[string]any{"cpus": "1-0"}), `cpus: cpu list "1-0": range 1-0 is backwards`)
	assert.EqualError(t, AffinityFactory{}.Validate(map[string]any{"cpus": "0", "threads": []any{}}),
		"threads: list at least one thread name glob, e.g. vhost-*")
	assert.EqualError(t, AffinityFactory{}.Validate(map[string]any{"cpus": "0", "threads": []any{"vhost-*", ""}}),
		`threads[1]: bad glob ""`)

	vms := &fakeVMs{vms: []discovery.VM{{Name: "web-1", PID: 4711}}}
	_, err = newAffinity(t, vms, "0").Fire(context.Background(), *event("vm.name", "web-1"))
	assert.EqualError(t, err, "refused: VMM 4711 has no thread matching [vhost-*]")
}
