package vmlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

// The teardown tests run a lab in a child test process (this binary, run
// again with -test.run) and check what the child leaves behind.
const (
	helperEnv = "VNETLAB_TEARDOWN_HELPER" // "fail" or "wait"
	layoutEnv = "VNETLAB_TEARDOWN_LAYOUT" // where the child writes its layout
)

// TestTeardownHelper is the child: it builds a lab, publishes its layout and
// then fails on purpose or waits to be signalled. Run directly it does nothing.
func TestTeardownHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	lab := NewT(t, Options{VMs: 2})
	b, err := json.Marshal(lab.Layout)
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv(layoutEnv)
	if err := os.WriteFile(out+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "fail":
		t.Fatalf("failing on purpose with lab %s up", lab.ID)
	case "wait":
		time.Sleep(time.Minute)
		t.Fatal("no signal came")
	}
}

func startHelper(t *testing.T, mode string) (*exec.Cmd, string, *tailBuffer) {
	t.Helper()
	bin, err := VMMBinary()
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(t.TempDir(), "layout.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestTeardownHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, layoutEnv+"="+layout, VMMBinaryEnv+"="+bin)
	// Locked: readLayout prints it while the child still writes.
	out := &tailBuffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, layout, out
}

func readLayout(t *testing.T, path string, out fmt.Stringer) *Layout {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var l Layout
			if err := json.Unmarshal(b, &l); err != nil {
				t.Fatal(err)
			}
			return &l
		}
		if time.Now().After(deadline) {
			t.Fatalf("child published no layout: %s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// vmmRunning tells whether the VMM of vm still runs (not gone, not a zombie,
// not a reused pid).
func vmmRunning(vm VMLayout) bool {
	st := procStat(vm.PID)
	return len(st) > 0 && st[0] != "Z" && runsVM(vm.PID, vm.Name)
}

// requireGone fails the test if anything of l is left, first sweeping dead
// labs as New does when sweep is set. It looks under the lab lock: a lab
// started in parallel may take l's slot, whose names are the same, but not
// while it looks. When one already has, l's remains (which its New swept)
// cannot be told from its objects, and the test says so.
func requireGone(t *testing.T, l *Layout, what string, sweep bool) {
	t.Helper()
	unlock, err := lockState()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if sweep {
		if _, err := sweepLocked(); err != nil {
			t.Fatal(err)
		}
	}
	if now, err := loadLayout(stateFile(l.Slot)); err == nil && now.OwnerPID != l.OwnerPID && now.OwnerAlive() {
		t.Logf("slot %d belongs to a new lab (owner %d) already: nothing left by %s can be told apart", l.Slot, now.OwnerPID, what)
		return
	}
	if left := leftovers(l); len(left) > 0 {
		t.Fatalf("%s left %v behind", what, left)
	}
}

// leftovers lists what of l still exists.
func leftovers(l *Layout) []string {
	var left []string
	names := []string{l.ClientNS}
	for _, vm := range l.VMs {
		names = append(names, vm.NS)
		if vmmRunning(vm) {
			left = append(left, fmt.Sprintf("vmm %d", vm.PID))
		}
	}
	for _, ns := range names {
		if _, err := os.Stat(NetnsPath(ns)); !errors.Is(err, os.ErrNotExist) {
			left = append(left, "netns "+ns)
		}
	}
	links := []string{l.Bridge, l.HostVeth}
	for _, vm := range l.VMs {
		links = append(links, vm.HostTap)
	}
	for _, name := range links {
		if linkExists(name) {
			left = append(left, "link "+name)
		}
	}
	for _, p := range []string{stateFile(l.Slot), l.RunDir()} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			left = append(left, p)
		}
	}
	return left
}

// requireUp fails the test unless every object of l exists: one VMM per
// VM, the client's and each VM's netns, the bridge, veth and taps, the state
// file and run dir.
func requireUp(t *testing.T, l *Layout) {
	t.Helper()
	if up := leftovers(l); len(up) != 3*len(l.VMs)+5 {
		t.Fatalf("lab not fully up in the child: %v", up)
	}
}

func TestTeardownAfterFailingTest(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	cmd, layout, out := startHelper(t, "fail")
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out.String(), "failing on purpose") {
		t.Fatalf("child should fail its test: %v\n%s", err, out)
	}
	requireGone(t, readLayout(t, layout, out), "failed test", false)
}

func TestTeardownOnSIGTERM(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	cmd, layout, out := startHelper(t, "wait")
	l := readLayout(t, layout, out)
	requireUp(t, l)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("child should die of SIGTERM after cleanup: %v\n%s", err, out)
	}
	requireGone(t, l, "SIGTERM", false)
}

// A crashed owner (SIGKILL: no cleanup runs) takes its VMMs and their taps
// with it (Pdeathsig); Sweep, which every New runs, removes the rest.
func TestSweepAfterCrash(t *testing.T) {
	testenv.RequireRoot(t)
	t.Parallel()
	cmd, layout, out := startHelper(t, "wait")
	l := readLayout(t, layout, out)
	requireUp(t, l)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, vm := range l.VMs {
		for vmmRunning(vm) || linkExists(vm.HostTap) {
			if time.Now().After(deadline) {
				t.Fatalf("vmm %d or tap %s survived its owner", vm.PID, vm.HostTap)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("after the crash: %v", leftovers(l))
	requireGone(t, l, "sweep", true)
}
