//go:build linux

package action

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func newSignal(t *testing.T, settings map[string]any) Action {
	t.Helper()
	a, err := SignalFactory{}.Create(Settings{Name: "kick", Logger: zap.NewNop(), VMs: &fakeVMs{}}, settings)
	require.NoError(t, err)
	return a
}

// startSleep starts a child that a test may signal.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "30")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestSignalRefusesPIDs(t *testing.T) {
	a := newSignal(t, map[string]any{"allowed_process_names": []any{"*"}})
	for pid, want := range map[string]string{
		"1":                       "refused: pid 1: init and below are never signalled",
		strconv.Itoa(os.Getpid()): "refused: pid " + strconv.Itoa(os.Getpid()) + " is the collector itself",
		"0":                       `refused: process.pid "0" is not a process id`,
	} {
		_, err := a.Fire(context.Background(), *event("process.pid", pid))
		assert.EqualError(t, err, want)
	}
}

// A process whose name is not allowed is refused and keeps running; an
// allowed one gets the signal, through a pidfd.
func TestSignalAllowlist(t *testing.T) {
	child := startSleep(t)
	pid := strconv.Itoa(child.Process.Pid)
	ev := *event("vm.name", "web-1", "process.pid", pid)

	res, err := newSignal(t, nil).Fire(context.Background(), ev)
	var refusal *Refusal
	require.True(t, errors.As(err, &refusal), "%v", err)
	assert.Equal(t, `process `+pid+` is "sleep", not in allowed_process_names [qemu-system-* qemu-kvm]`, refusal.Reason)
	assert.Equal(t, Target{VM: "web-1", PID: child.Process.Pid, Key: "vm:web-1"}, res.Target)
	assert.True(t, alive(child.Process.Pid))

	allowed := map[string]any{"allowed_process_names": []any{"sle*"}, "signal": "SIGTERM"}
	dry := ev
	dry.DryRun = true
	res, err = newSignal(t, allowed).Fire(context.Background(), dry)
	require.NoError(t, err)
	assert.Equal(t, DryRun, res.Outcome)
	assert.Equal(t, "comm sleep", res.Detail)
	assert.True(t, alive(child.Process.Pid), "a dry run signals nothing")

	res, err = newSignal(t, allowed).Fire(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, "SIGTERM", res.New)
	err = child.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, syscall.SIGTERM, exit.Sys().(syscall.WaitStatus).Signal())
}

func TestSignalGoneProcess(t *testing.T) {
	child := startSleep(t)
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
	_, err := newSignal(t, map[string]any{"allowed_process_names": []any{"*"}}).
		Fire(context.Background(), *event("process.pid", strconv.Itoa(child.Process.Pid)))
	pid := strconv.Itoa(child.Process.Pid)
	assert.EqualError(t, err, "SIGUSR1 to pid "+pid+": refused: process "+pid+" is gone")
	assert.Equal(t, Refused, Classify(context.Background(), err))
}

// The VM is found by vm.name when the group has no process.pid.
func TestSignalByVMName(t *testing.T) {
	child := startSleep(t)
	vms := &fakeVMs{vms: vmList("web-1", child.Process.Pid)}
	a, err := SignalFactory{}.Create(Settings{Logger: zap.NewNop(), VMs: vms},
		map[string]any{"allowed_process_names": []any{"sleep"}, "signal": "SIGKILL"})
	require.NoError(t, err)
	res, err := a.Fire(context.Background(), *event("vm.name", "web-1", "network.interface.name", "vnet3"))
	require.NoError(t, err)
	assert.Equal(t, child.Process.Pid, res.Target.PID)
	err = child.Wait()
	require.Error(t, err)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "killed by the action's SIGKILL")
	assert.Equal(t, []VMQuery{{Name: "web-1"}}, vms.queries)
}

func TestSignalConfigRefused(t *testing.T) {
	f := SignalFactory{}
	assert.EqualError(t, f.Validate(map[string]any{"signal": "SIGFOO"}),
		`signal: unknown signal "SIGFOO"; use a name such as SIGUSR1, SIGUSR2, SIGHUP`)
	assert.EqualError(t, f.Validate(map[string]any{"allowed_process_names": []any{}}),
		"allowed_process_names: list at least one glob, e.g. qemu-system-*")
	assert.EqualError(t, f.Validate(map[string]any{"allowed_process_names": []any{"qemu["}}),
		`allowed_process_names[0]: bad glob "qemu["`)
	assert.ErrorContains(t, f.Validate(map[string]any{"pid": 4}), "pid")
	assert.NoError(t, f.Validate(nil))
}
