//go:build linux

package discovery

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"golang.org/x/sys/unix"
)

// The privileged tests re-run the test binary as a helper process; these
// variables tell TestHelperProcess what to play.
const (
	helperEnv     = "VNETPATH_DISCOVERY_HELPER" // "vmm" or "scan"
	helperTapEnv  = "VNETPATH_DISCOVERY_TAP"    // the fake VMM's tap
	helperProcEnv = "VNETPATH_DISCOVERY_PROC"   // the proc root to scan
)

// TestHelperProcess is no test: it is the helper process of the privileged
// tests when helperEnv is set, and does nothing otherwise.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "vmm":
		os.Exit(fakeVMM(os.Getenv(helperTapEnv)))
	case "scan":
		os.Exit(scanAndReport(os.Getenv(helperProcEnv)))
	}
}

// fakeVMM holds a tap and a thread named vhost-<pid>, prints "ready <tid>",
// and exits when its stdin closes.
func fakeVMM(tap string) int {
	if err := openTap(tap); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tids := make(chan int)
	go nameThread(fmt.Sprintf("vhost-%d", os.Getpid()), tids)
	tid := <-tids
	if tid == 0 {
		return 1
	}
	fmt.Printf("ready %d\n", tid)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// nameThread names a thread other than the main one (whose name is the
// process's comm) and sends its tid, or 0 on failure. The thread keeps its
// name for good: it stays locked and never exits.
func nameThread(name string, tids chan<- int) {
	runtime.LockOSThread()
	if unix.Gettid() == os.Getpid() {
		go nameThread(name, tids) // this goroutine holds the main thread, so that one runs elsewhere
		select {}
	}
	if err := setThreadName(name); err != nil {
		fmt.Fprintln(os.Stderr, err)
		tids <- 0
		return
	}
	tids <- unix.Gettid()
	select {}
}

// openTap creates a non-persistent tap that lives as long as this process.
func openTap(name string) error {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("ifreq %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	return nil
}

func setThreadName(name string) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(p)), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_NAME %s: %w", name, err)
	}
	runtime.KeepAlive(p)
	return nil
}

// scanReport is what the scanning helper prints.
type scanReport struct {
	VMs        []VM
	Stats      Stats
	FirstError string
}

func scanAndReport(root string) int {
	vms, stats, err := (&Scanner{Proc: root}).Scan()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r := scanReport{VMs: vms, Stats: stats}
	if stats.FirstError != nil {
		r.FirstError, r.Stats.FirstError = stats.FirstError.Error(), nil
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a process started by a test, in its own network namespace so
// its taps clash with nothing and vanish with it.
type child struct {
	cmd    *exec.Cmd
	stderr string // file holding its stderr
	exited chan struct{}
}

func startChild(t *testing.T, cmd *exec.Cmd) *child {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stderr = f
	// Pdeathsig: no child outlives a crashed test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	c := &child{cmd: cmd, stderr: f.Name(), exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(c.stop)
	return c
}

// stop kills and reaps the child; it may be called more than once.
func (c *child) stop() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) stderrText() string {
	b, _ := os.ReadFile(c.stderr)
	return string(b)
}

// scanFor scans /proc and returns the VM of pid, if listed.
func scanFor(t *testing.T, pid int) (VM, bool) {
	t.Helper()
	vms, _, err := (&Scanner{}).Scan()
	if err != nil {
		t.Fatalf("scan /proc: %v", err)
	}
	for _, vm := range vms {
		if vm.PID == pid {
			return vm, true
		}
	}
	return VM{}, false
}

// waitForTap scans until the child is listed with a tap: QEMU opens it
// during its start-up, which signals nothing.
func waitForTap(t *testing.T, c *child) VM {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if vm, ok := scanFor(t, c.pid()); ok && len(vm.Taps) > 0 {
			return vm
		}
		select {
		case <-c.exited:
			t.Fatalf("%s exited before holding a tap: %s", c.cmd.Path, c.stderrText())
		case <-deadline:
			t.Fatalf("%s holds no tap after 10s: %s", c.cmd.Path, c.stderrText())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// assertGone stops the VMM and checks that the next scan drops it.
func assertGone(t *testing.T, c *child) {
	t.Helper()
	c.stop()
	if vm, ok := scanFor(t, c.pid()); ok {
		t.Errorf("scan after the VMM exited still lists it: %+v", vm)
	}
}

func TestScanFindsQEMU(t *testing.T) {
	testenv.RequireRoot(t)
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatalf("%v: install Debian's qemu-system-x86 package (apt-get install qemu-system-x86)", err)
	}
	const tap = "vnettest0" // unique: QEMU runs in its own network namespace
	c := startChild(t, exec.Command(qemu, "-machine", "none", "-nodefaults", "-display", "none",
		"-name", "guest=disc-test,debug-threads=on",
		"-netdev", "tap,id=n0,ifname="+tap+",script=no,downscript=no"))

	got := waitForTap(t, c)
	want := VM{Name: "disc-test", PID: c.pid(), Comm: "qemu-system-x86", Taps: []string{tap}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("QEMU (-want +got):\n%s", diff)
	}
	assertGone(t, c)
}

func TestScanFindsHelperVMM(t *testing.T) {
	testenv.RequireRoot(t)
	const tap = "vnethelper0" // unique: the helper runs in its own network namespace
	c, tid := startFakeVMM(t, tap)

	got, ok := scanFor(t, c.pid())
	if !ok {
		t.Fatalf("helper %d not listed", c.pid())
	}
	want := VM{Name: "helper-vm", PID: c.pid(), Comm: commOf(os.Args[0]), Taps: []string{tap},
		Workers: []Thread{{TID: tid, Name: fmt.Sprintf("vhost-%d", c.pid())}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("helper VMM (-want +got):\n%s", diff)
	}
	assertGone(t, c)
}

// startFakeVMM runs the test binary as a VMM named helper-vm holding tap
// and returns it with the tid of its vhost-<pid> thread.
func startFakeVMM(t *testing.T, tap string) (*child, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--", "-name", "guest=helper-vm")
	cmd.Env = append(os.Environ(), helperEnv+"=vmm", helperTapEnv+"="+tap)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close() })
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := startChild(t, cmd)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var tid int
	if _, scanErr := fmt.Sscanf(line, "ready %d\n", &tid); err != nil || scanErr != nil {
		c.stop()
		t.Fatalf("helper said %q (%v): %s", line, err, c.stderrText())
	}
	return c, tid
}

// TestScanSurvivesChurn scans while processes come and go: those that exit
// mid-scan are skipped and counted as vanished, never as failures, never
// fail the scan, and never hide the VMM.
func TestScanSurvivesChurn(t *testing.T) {
	testenv.RequireRoot(t)
	c, _ := startFakeVMM(t, "vnetchurn0")
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_ = exec.Command("/bin/true").Run()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })

	// Processes more privileged than this one (the sandbox's init, say)
	// deny their fds for good; a race must never add to them.
	_, before, err := (&Scanner{}).Scan()
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	vanished := 0
	for range 200 {
		vms, stats, err := (&Scanner{}).Scan()
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		if !slices.ContainsFunc(vms, func(vm VM) bool { return vm.PID == c.pid() }) {
			t.Fatalf("VMM %d missing from a scan with %+v", c.pid(), stats)
		}
		if stats.Errors != 0 || stats.PermissionDenied > before.PermissionDenied {
			t.Fatalf("a race was taken for a failure: %+v, %d denied before", stats, before.PermissionDenied)
		}
		vanished += stats.Vanished
	}
	t.Logf("%d processes vanished mid-scan over 200 scans", vanished)
}

// commOf is the comm the kernel gives a program: its base name cut to 15 bytes.
func commOf(program string) string {
	base := filepath.Base(program)
	return base[:min(len(base), 15)]
}

// TestScanCountsPermissionDenied scans as nobody, as a collector without
// CAP_SYS_PTRACE would, a fixture where one process's fds are root's only.
func TestScanCountsPermissionDenied(t *testing.T) {
	testenv.RequireRoot(t)
	dir := worldReadableDir(t)
	root := filepath.Join(dir, "proc")
	writeProc(t, root, fakeProcess{pid: 100, comm: "qemu-system-x86", cmdline: []string{"qemu", "-name", "vm1"},
		fds: map[int]string{3: "/dev/net/tun"}, fdinfo: map[int]string{3: tunInfo("vnet3")}})
	writeProc(t, root, fakeProcess{pid: 101, comm: "qemu-system-x86", cmdline: []string{"qemu", "-name", "vm2"},
		fds: map[int]string{3: "/dev/net/tun"}, fdinfo: map[int]string{3: tunInfo("vnet4")}})
	writeProc(t, root, fakeProcess{pid: 102, comm: "sshd", fds: map[int]string{0: "/dev/null"}})
	// 103 denies its fds too, but has exited: proc_pid_readlink answers
	// EACCES, not ENOENT, for the fds of a reaped process.
	writeProc(t, root, fakeProcess{pid: 103, comm: "qemu-system-x86", fds: map[int]string{3: "/dev/net/tun"}})
	if err := os.Remove(filepath.Join(root, "103", "stat")); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []string{"101", "103"} {
		if err := os.Chmod(filepath.Join(root, pid, "fd"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "discovery.test")
	copyExecutable(t, os.Args[0], bin)

	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=scan", helperProcEnv+"="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scan as nobody: %v: %s", err, stderr.String())
	}
	var got scanReport
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	want := scanReport{
		VMs:   []VM{{Name: "vm1", PID: 100, Comm: "qemu-system-x86", Taps: []string{"vnet3"}}},
		Stats: Stats{Processes: 4, VMMs: 1, Taps: 1, Vanished: 1, PermissionDenied: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scan as nobody (-want +got):\n%s", diff)
	}
}

// worldReadableDir is a temporary directory that other users can enter.
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vnetpath-discovery-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
