//go:build linux

package action

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func newExec(t *testing.T, settings map[string]any) (Action, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	a, err := ExecFactory{}.Create(Settings{Name: "hook", Logger: zap.New(core), AllowExec: true}, settings)
	require.NoError(t, err)
	return a, logs
}

var execEvent = *event("vm.name", "web-1", "network.interface.name", "vnet3", "process.pid", "4711")

// Templated arguments reach the program as separate arguments, without a
// shell; its output is captured into the log and its exit status kept.
func TestExecRunsProgram(t *testing.T) {
	a, logs := newExec(t, map[string]any{"program": "/bin/echo",
		"args": []any{"{{trigger}}", "{{vm.name}}", "{{network.interface.name}}", "{{process.pid}}", "{{value}}", "$HOME;", "a b"}})
	res, err := a.Fire(context.Background(), execEvent)
	require.NoError(t, err)
	assert.True(t, res.Exited)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, "run /bin/echo ring-overflow web-1 vnet3 4711 0.002 $HOME; a b: exit status 0", res.Detail)
	out := logs.FilterMessage("sli exec output").All()
	require.Len(t, out, 1)
	assert.Equal(t, "ring-overflow web-1 vnet3 4711 0.002 $HOME; a b\n", out[0].ContextMap()["stdout"])
	assert.Equal(t, "hook", out[0].ContextMap()["action"])
}

func TestExecExitStatus(t *testing.T) {
	a, logs := newExec(t, map[string]any{"program": "/bin/sh", "args": []any{"-c", "echo oops >&2; exit 3"}})
	res, err := a.Fire(context.Background(), execEvent)
	assert.EqualError(t, err, "exec /bin/sh: exit status 3")
	assert.Equal(t, Failure, Classify(context.Background(), err))
	assert.True(t, res.Exited)
	assert.Equal(t, 3, res.ExitCode)
	assert.Equal(t, "oops\n", logs.FilterMessage("sli exec output").All()[0].ContextMap()["stderr"])
}

// The timeout kills the program's whole process group: a child it left
// in the background dies too.
func TestExecTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	a, _ := newExec(t, map[string]any{"program": "/bin/sh", "args": []any{"-c", "sleep 60 & echo $! > " + pidFile + "; wait"}})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	res, err := a.Fire(ctx, execEvent)
	assert.Less(t, time.Since(began), 5*time.Second)
	assert.Equal(t, Timeout, Classify(ctx, err), "%v", err)
	assert.Equal(t, -1, res.ExitCode, "ended by a signal")
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	assert.Eventually(t, func() bool { return syscall.Kill(child, 0) != nil }, 5*time.Second, 10*time.Millisecond,
		"the background child %d outlived the timeout", child)
}

// A group value with "/", a space or ".." never reaches the program.
func TestExecRefusesUnsafeValues(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	a, _ := newExec(t, map[string]any{"program": "/usr/bin/touch", "args": []any{marker, "{{vm.name}}"}})
	for _, v := range []string{"../../etc/passwd", "web 1", "a..b", "/tmp/x", "-rf"} {
		_, err := a.Fire(context.Background(), *event("vm.name", v))
		var refusal *Refusal
		require.ErrorAs(t, err, &refusal, v)
		assert.Contains(t, refusal.Reason, "is not a safe value")
	}
	assert.NoFileExists(t, marker)
}

func TestExecDryRun(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	a, _ := newExec(t, map[string]any{"program": "/usr/bin/touch", "args": []any{marker}, "dry_run": true})
	res, err := a.Fire(context.Background(), execEvent)
	require.NoError(t, err)
	assert.Equal(t, DryRun, res.Outcome)
	assert.Equal(t, "run /usr/bin/touch "+marker, res.Detail)
	assert.NoFileExists(t, marker)
}

func TestExecRefusedWithoutAllowExec(t *testing.T) {
	_, err := ExecFactory{}.Create(Settings{Logger: zap.NewNop()}, map[string]any{"program": "/bin/true"})
	assert.EqualError(t, err, "exec actions need allow_exec: true on the processor")
	_, err = ExecFactory{}.Create(Settings{Logger: zap.NewNop(), AllowExec: true}, map[string]any{"program": "/nonexistent/x"})
	assert.EqualError(t, err, "program: stat /nonexistent/x: no such file or directory")
	plain := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644))
	_, err = ExecFactory{}.Create(Settings{Logger: zap.NewNop(), AllowExec: true}, map[string]any{"program": plain})
	assert.EqualError(t, err, "program: "+plain+" is not an executable file")
	for _, p := range []string{"true", "./true", "/bin/../bin/true", ""} {
		assert.ErrorContains(t, ExecFactory{}.Validate(map[string]any{"program": p}), "must be a clean absolute path", p)
	}
	assert.EqualError(t, ExecFactory{}.Validate(map[string]any{"program": "/bin/true", "args": []any{"{{vm.name"}}),
		`args[0]: template "{{vm.name": "{{" without "}}"`)
}

func TestBoundedBuffer(t *testing.T) {
	b := &boundedBuffer{max: 4}
	n, err := b.Write([]byte("abcdef"))
	assert.Equal(t, 6, n)
	require.NoError(t, err)
	_, _ = b.Write([]byte("gh"))
	assert.Equal(t, "abcd...(4 bytes dropped)", b.String())
}
