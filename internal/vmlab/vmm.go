package vmlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/vnetpath/vnetpath/internal/vmlab/vmmctl"
)

// spawner starts VMM processes from one locked OS thread that lives as long
// as the lab: Pdeathsig fires when the forking *thread* exits, and Go ends
// threads (e.g. one left locked in a foreign netns), which would kill a VMM
// started from it.
type spawner struct {
	reqs chan spawnReq
	done chan struct{}
}

type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(s.done)
		for r := range s.reqs {
			r.errc <- r.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	s.reqs <- spawnReq{cmd, errc}
	return <-errc
}

// stop ends the spawner thread; call it once its children are dead.
func (s *spawner) stop() {
	close(s.reqs)
	<-s.done
}

// vmmProc is a running VMM and its exit.
type vmmProc struct {
	cmd    *exec.Cmd
	stderr *tailBuffer
	exited chan struct{}
	err    error // of Wait, valid once exited is closed
}

func startVMM(sp *spawner, bin string, vm VMLayout, vnetHdr bool) (*vmmProc, error) {
	netdev := fmt.Sprintf("tap,id=hostnet%d,ifname=%s", vm.Index, vm.HostTap)
	if vnetHdr {
		netdev += ",vnet_hdr=on"
	}
	cmd := exec.Command(bin,
		"-name", "guest="+vm.Name+",debug-threads=on",
		"-netdev", netdev,
		"-guestnic", fmt.Sprintf("netns=%s,ifname=%s", vm.NetnsPath(), vm.GuestDev),
		"-control", vm.ControlSock,
	)
	p := &vmmProc{cmd: cmd, stderr: &tailBuffer{max: 4096}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := sp.start(cmd); err != nil {
		return nil, fmt.Errorf("start vmm %s: %w", vm.Name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// dial waits for the VMM's control socket, which appears once its taps and
// worker exist.
func (p *vmmProc) dial(ctx context.Context, path string) (*vmmctl.Client, error) {
	deadline := time.After(10 * time.Second)
	for {
		if c, err := vmmctl.Dial(path); err == nil {
			return c, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("vmm exited during start (%v): %s", p.err, p.stderr)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline:
			return nil, fmt.Errorf("vmm control socket %s did not appear within 10s", path)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// stop asks the VMM to exit (SIGTERM), then kills it after grace.
func (p *vmmProc) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("vmm %d ignored SIGTERM for %s; killed", p.cmd.Process.Pid, grace)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// VMMBinaryEnv names an environment variable holding the VMM executable's path.
const VMMBinaryEnv = "VNETLAB_VMM"

var vmmBuild struct {
	once sync.Once
	path string
	err  error
}

// VMMBinary finds the VMM executable: $VNETLAB_VMM, else vnetlab-vmm next to
// the running executable, else (once per process) `go build` of
// ./cmd/vnetlab-vmm into .cache/vnetlab at the module root.
func VMMBinary() (string, error) {
	if p := os.Getenv(VMMBinaryEnv); p != "" {
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "vnetlab-vmm")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	vmmBuild.once.Do(func() { vmmBuild.path, vmmBuild.err = buildVMM() })
	return vmmBuild.path, vmmBuild.err
}

func buildVMM() (string, error) {
	root, err := SourceRoot()
	if err != nil {
		return "", fmt.Errorf("build vmm: %w; set %s", err, VMMBinaryEnv)
	}
	dir := filepath.Join(root, ".cache", "vnetlab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build vmm: %w", err)
	}
	// Build to a private name and rename: test packages build concurrently.
	tmp, err := os.CreateTemp(dir, "vnetlab-vmm-*.tmp")
	if err != nil {
		return "", fmt.Errorf("build vmm: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-o", tmp.Name(), "./cmd/vnetlab-vmm")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build vmm: go build ./cmd/vnetlab-vmm: %w\n%s", err, out)
	}
	out := filepath.Join(dir, "vnetlab-vmm")
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("build vmm: %w", err)
	}
	return out, nil
}

// SourceRoot is the root of the module this package was built from, where
// the lab builds the helper binaries nobody handed it.
func SourceRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("no source path")
	}
	for dir := filepath.Dir(file); ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root not found")
		}
		dir = parent
	}
}
