package action

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// auditNow is the time of the records an openTestAudit file gets: with
// it fixed, a record's length is known.
var auditNow = time.Date(2023, 11, 14, 22, 13, 21, 500_000_000, time.UTC)

func openTestAudit(t *testing.T, maxBytes int64, backups int) (*Audit, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	a, err := OpenAudit(AuditConfig{Path: path, MaxBytes: maxBytes, MaxBackups: backups})
	require.NoError(t, err)
	a.now = func() time.Time { return auditNow }
	t.Cleanup(func() { _ = a.Close() })
	return a, path
}

// auditLineLen is the length of auditReport(seq)'s line in the file.
func auditLineLen(t *testing.T, seq int) int {
	t.Helper()
	line, err := json.Marshal(newAuditRecord(auditReport(seq), auditNow))
	require.NoError(t, err)
	return len(line) + 1
}

// readAudit parses every line of an audit file; it fails on a line that
// is not a complete JSON object.
func readAudit(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []map[string]any
	for i, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		require.True(t, bytes.HasSuffix(line, []byte("\n")), "line %d is cut short: %q", i+1, line)
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec), "line %d", i+1)
		out = append(out, rec)
	}
	return out
}

func auditReport(seq int) *Report {
	ev := testEvent
	ev.Value = float64(seq)
	return &Report{Action: "grow", Type: "txqueuelen", Event: &ev, Outcome: OK,
		Result: Result{Target: Target{VM: "web-1", Interface: "vnet3"}, Old: "64", New: "256"}, Took: time.Millisecond}
}

func TestAuditRecord(t *testing.T) {
	a, path := openTestAudit(t, 1<<20, 1)
	r := auditReport(1)
	r.Result.Exited, r.Result.ExitCode = true, 3
	r.Event.DryRun = true
	require.NoError(t, a.Write(r))
	recs := readAudit(t, path)
	require.Len(t, recs, 1)
	assert.Equal(t, map[string]any{
		"time": "2023-11-14T22:13:21.5Z", "action": "grow", "type": "txqueuelen", "trigger": "ring-overflow", "indicator": "tap_drop_ratio",
		"state": "firing", "event_time": "2023-11-14T22:13:20Z", "value": 1.0, "outcome": "ok", "dry_run": true,
		"target": map[string]any{"vm.name": "web-1", "network.interface.name": "vnet3"},
		"group":  map[string]any{"vm.name": "web-1", "network.interface.name": "vnet3"},
		"old":    "64", "new": "256", "exit_code": 3.0, "took_seconds": 0.001,
	}, recs[0])
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

// The file rotates before a record would pass max_bytes and keeps
// max_backups rotated files, newest first.
func TestAuditRotation(t *testing.T) {
	// Records 0-9 have lines of one length; max_bytes is 3 of them
	// exactly: a record that fills the file to max_bytes stays in it.
	perFile := 3
	a, path := openTestAudit(t, int64(perFile*auditLineLen(t, 1)), 2)
	for i := range 10 {
		require.NoError(t, a.Write(auditReport(i)))
	}
	// 10 records, 3 per file: 9 (current), 6-8 (.1), 3-5 (.2); 0-2 gone.
	values := func(p string) []float64 {
		var vs []float64
		for _, r := range readAudit(t, p) {
			vs = append(vs, r["value"].(float64))
		}
		return vs
	}
	assert.Equal(t, []float64{9}, values(path))
	assert.Equal(t, []float64{6, 7, 8}, values(path+".1"))
	assert.Equal(t, []float64{3, 4, 5}, values(path+".2"))
	assert.NoFileExists(t, path+".3")
}

func TestAuditRotationWithoutBackups(t *testing.T) {
	a, path := openTestAudit(t, 4096, 0)
	// The file starts afresh at each record that would take it past 4096
	// bytes (lines grow by one byte from record 10 on).
	first, size := 0, 0
	for i := range 40 {
		require.NoError(t, a.Write(auditReport(i)))
		if n := auditLineLen(t, i); size+n > 4096 {
			first, size = i, n
		} else {
			size += n
		}
	}
	recs := readAudit(t, path)
	assert.NotEmpty(t, recs)
	assert.Equal(t, 39.0, recs[len(recs)-1]["value"])
	var values []float64
	for _, r := range recs {
		values = append(values, r["value"].(float64))
	}
	var want []float64
	for i := first; i < 40; i++ {
		want = append(want, float64(i))
	}
	require.Greater(t, first, 0, "the file rotated")
	assert.Equal(t, want, values, "the records since the last rotation")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, int64(size), st.Size())
	assert.NoFileExists(t, path+".1")
}

// A line cut short by a crash stays on its own: the next record starts on
// a new line.
func TestAuditEndsCutLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(`{"action":"grow"}`+"\n"+`{"action":"gr`), 0o600))
	a, err := OpenAudit(AuditConfig{Path: path, MaxBytes: 1 << 20})
	require.NoError(t, err)
	require.NoError(t, a.Write(auditReport(7)))
	require.NoError(t, a.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	require.Len(t, lines, 3)
	assert.Equal(t, `{"action":"gr`, lines[1])
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &rec))
	assert.Equal(t, 7.0, rec["value"])
}

const auditChildEnv = "VNETPATH_AUDIT_CHILD"

// TestAuditSurvivesKill9 runs actions through the executor in a child
// process that writes the audit file, kills it with SIGKILL once it has
// reported n completed runs, and finds exactly n complete records, in
// order.
func TestAuditSurvivesKill9(t *testing.T) {
	if spec := os.Getenv(auditChildEnv); spec != "" {
		auditChild(spec)
		return
	}
	const n = 25
	path := filepath.Join(t.TempDir(), "actions.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAuditSurvivesKill9$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", auditChildEnv, path, n))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	completed := 0
	sc := bufio.NewScanner(out)
	for completed < n && sc.Scan() {
		if seq, ok := strings.CutPrefix(sc.Text(), "completed "); ok {
			completed++
			require.Equal(t, strconv.Itoa(completed), seq)
		}
	}
	require.Equal(t, n, completed, "the child reported %d runs", completed)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())

	recs := readAudit(t, path)
	require.Len(t, recs, n)
	for i, r := range recs {
		assert.Equal(t, float64(i+1), r["value"], "record %d", i)
		assert.Equal(t, "ok", r["outcome"])
		assert.Equal(t, "256", r["new"])
	}
}

// auditChild runs n actions through an executor with an audit file, says
// so on stdout after each, then waits to be killed.
func auditChild(spec string) {
	path, count, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(count)
	a, err := OpenAudit(AuditConfig{Path: path, MaxBytes: 1 << 20, MaxBackups: 1})
	if err != nil {
		panic(err)
	}
	seq := 0
	e := NewExecutor([]Bound{{Name: "grow", Type: "txqueuelen", Timeout: time.Minute,
		Action: resultAction{res: Result{Target: Target{Interface: "vnet3"}, Old: "64", New: "256"}}}},
		ExecutorSettings{QueueSize: n, Logger: zap.NewNop(), Observe: func(*Report) {
			seq++ // one worker: reports come in order
			fmt.Printf("completed %d\n", seq)
		}})
	if err := e.Start(context.Background(), nil, a); err != nil {
		panic(err)
	}
	for i := 1; i <= n; i++ {
		ev := testEvent
		ev.Value = float64(i)
		e.Submit("grow", ev)
	}
	time.Sleep(time.Hour) // until SIGKILL
}
