package qemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vnetpath/vnetpath/internal/qmp"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/guestagent"
)

// initFailed starts the console line of a failed /init step (init.sh).
const initFailed = "vnetlab-init: FAILED"

// Options configure Boot.
type Options struct {
	Image *Image
	// Lab is built with ExternalVMM and HostAddress; the guest plays its VM
	// number VM, with that VM's name, address, MAC and host tap.
	Lab *vmlab.Lab
	VM  int
	// MemoryMiB is the guest's RAM; 0 means 1024.
	MemoryMiB int
	// CPUs is the number of vCPUs; 0 means 1.
	CPUs int
	// Accel is QEMU's accelerator: "tcg" (the default: no KVM needed) or
	// "kvm" on a KVM host.
	Accel string
	// Vhost moves the NIC's packets in the kernel's vhost-net workers
	// (threads vhost-<QEMU pid>) instead of QEMU's main loop: -netdev
	// tap,vhost=on, as libvirt does on a KVM host. Needs /dev/vhost-net.
	Vhost bool
	// QEMU is the emulator; empty means qemu-system-x86_64 from PATH.
	QEMU string
	// ConsoleLog receives the guest's serial console and QEMU's messages;
	// empty means <vmlab.StateDir>/<lab>/<vm>.console (gone with the lab).
	ConsoleLog string
	// OTLPPort is the host collector's OTLP/gRPC port on Lab.HostIP that the
	// guest collector exports to; 0 means 4317.
	OTLPPort int
	// TxQueueLen is the host tap's txqueuelen; 0 keeps tun's default.
	TxQueueLen int
	// ReadyTimeout bounds the boot up to the agent's ready line; 0 means
	// 3 minutes.
	ReadyTimeout time.Duration
}

// Guest is a running QEMU guest on a lab VM's tap.
type Guest struct {
	VM         *vmlab.VM
	PID        int           // QEMU's
	ConsoleLog string        // file holding the console
	Ready      time.Duration // from QEMU's start to the agent's ready line
	OTLP       string        // host:port the guest collector exports to

	lab       *vmlab.Lab
	cmd       *exec.Cmd
	console   *console
	exited    chan struct{}
	waitErr   error // QEMU's exit, valid once exited is closed
	closeOnce sync.Once
}

// Boot starts QEMU paused on the lab VM's tap, wires the tap into the lab,
// lets the guest run and waits until its agent is ready. QEMU dies with the
// calling process (Pdeathsig) and its tap with QEMU.
func Boot(ctx context.Context, opts Options) (*Guest, error) {
	if opts.Image == nil || opts.Lab == nil {
		return nil, errors.New("qemu: Options.Image and Options.Lab are required")
	}
	if opts.VM < 0 || opts.VM >= len(opts.Lab.AllVMs()) {
		return nil, fmt.Errorf("qemu: Options.VM = %d, lab %s has %d VMs", opts.VM, opts.Lab.ID, len(opts.Lab.AllVMs()))
	}
	vm := opts.Lab.VM(opts.VM)
	if !vm.External || !opts.Lab.HostIP.IsValid() {
		return nil, fmt.Errorf("qemu: lab %s must be built with ExternalVMM and HostAddress", opts.Lab.ID)
	}
	bin := opts.QEMU
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("qemu-system-x86_64"); err != nil {
			return nil, fmt.Errorf("qemu: %w (apt-get install qemu-system-x86)", err)
		}
	}
	runDir := opts.Lab.RunDir()
	logPath := opts.ConsoleLog
	if logPath == "" {
		logPath = filepath.Join(runDir, vm.Name+".console")
	}
	con, err := newConsole(logPath)
	if err != nil {
		return nil, err
	}
	port := opts.OTLPPort
	if port == 0 {
		port = 4317
	}
	g := &Guest{
		VM: vm, ConsoleLog: logPath, lab: opts.Lab, console: con, exited: make(chan struct{}),
		OTLP: netip.AddrPortFrom(opts.Lab.HostIP, uint16(port)).String(),
	}
	qmpPath := filepath.Join(runDir, vm.Name+".qmp")
	g.cmd = exec.Command(bin, qemuArgs(opts, &opts.Lab.Layout, vm.VMLayout, g.OTLP, qmpPath)...)
	g.cmd.Stdout, g.cmd.Stderr = con, con
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := g.start(); err != nil {
		con.close()
		return nil, fmt.Errorf("qemu %s: %w", vm.Name, err)
	}
	g.PID = g.cmd.Process.Pid
	if err := g.run(ctx, opts, qmpPath); err != nil {
		return nil, errors.Join(fmt.Errorf("qemu %s: %w\nconsole (%s):\n%s", vm.Name, err, logPath, con.tail(8192)), g.Close())
	}
	g.Ready = time.Since(start)
	return g, nil
}

// qemuArgs is QEMU's command line for VM vm of lab l.
func qemuArgs(opts Options, l *vmlab.Layout, vm vmlab.VMLayout, otlp, qmpPath string) []string {
	mem, cpus, accel := opts.MemoryMiB, opts.CPUs, opts.Accel
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 1
	}
	if accel == "" {
		accel = "tcg"
	}
	cmdline := strings.Join([]string{
		// No IPv6: its router solicitations and MLD reports, sent whenever
		// the guest's timers say, would land in the tests' exact frame counts.
		"console=ttyS0", "panic=-1", "ipv6.disable=1",
		"vnl_name=" + vm.Name,
		"vnl_ip=" + netip.PrefixFrom(vm.IP, l.Subnet.Bits()).String(),
		"vnl_neigh=" + l.ClientIP.String() + "@" + l.ClientMAC + "," + l.HostIP.String() + "@" + l.BridgeMAC,
		"vnl_port=" + strconv.Itoa(guestagent.Port),
		"vnl_otlp=" + otlp,
	}, " ")
	netdev := "tap,id=hostnet0,ifname=" + vm.HostTap + ",script=no,downscript=no"
	if opts.Vhost {
		netdev += ",vhost=on"
	}
	args := []string{
		// libvirt's spelling: discovery reads the VM name from guest=, and
		// debug-threads names QEMU's threads (CPU 0/TCG, worker...).
		"-name", "guest=" + vm.Name + ",debug-threads=on",
		"-accel", accel,
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
		// A guest reboot or panic ends QEMU: the console says why.
		"-no-reboot",
		"-kernel", opts.Image.Kernel, "-initrd", opts.Image.Initramfs, "-append", cmdline,
		"-netdev", netdev,
		"-device", "virtio-net-pci,netdev=hostnet0,mac=" + vm.MAC,
		// Paused until the tap is wired (-S), resumed over QMP.
		"-qmp", "unix:" + qmpPath + ",server=on,wait=off", "-S",
	}
	if accel == "kvm" {
		args = append(args, "-cpu", "host")
	}
	return args
}

// start runs QEMU from a thread locked for QEMU's whole life: Pdeathsig
// fires when the forking thread ends, not the process.
func (g *Guest) start() error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := g.cmd.Start(); err != nil {
			errc <- err
			return
		}
		errc <- nil
		g.waitErr = g.cmd.Wait()
		close(g.exited)
	}()
	return <-errc
}

// run wires the tap while QEMU is paused, resumes it and waits for the
// agent's ready line.
func (g *Guest) run(ctx context.Context, opts Options, qmpPath string) error {
	timeout := opts.ReadyTimeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := g.waitMonitor(ctx, qmpPath); err != nil {
		return err
	}
	// QEMU opened the tap before its monitor came up.
	if err := g.VM.AdoptTap(g.PID, opts.TxQueueLen); err != nil {
		return err
	}
	if _, err := qmp.Execute(ctx, qmpPath, "cont", nil); err != nil {
		return err
	}
	return g.WaitConsole(ctx, guestagent.ReadyMarker)
}

// waitMonitor waits until QEMU's monitor answers, which it does once QEMU
// has made its socket early in its start.
func (g *Guest) waitMonitor(ctx context.Context, path string) error {
	for {
		_, err := qmp.Execute(ctx, path, "query-status", nil)
		if !errors.Is(err, qmp.ErrConnect) {
			return err
		}
		select {
		case <-g.exited:
			return errors.New("qmp: QEMU exited before its monitor came up")
		case <-ctx.Done():
			return fmt.Errorf("QEMU monitor %s: %w (last: %v)", path, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitConsole waits for a console line containing s. It fails early when
// QEMU exits or a step of the guest's /init fails.
func (g *Guest) WaitConsole(ctx context.Context, s string) error {
	for {
		text, changed := g.console.snapshot()
		switch {
		case strings.Contains(text, s):
			return nil
		case strings.Contains(text, initFailed):
			return fmt.Errorf("guest init failed before %q", s)
		}
		select {
		case <-changed:
		case <-g.exited:
			if text, _ := g.console.snapshot(); strings.Contains(text, s) {
				return nil
			}
			if g.waitErr == nil {
				return fmt.Errorf("QEMU exited (status 0: the guest powered off, rebooted or reset) before %q", s)
			}
			return fmt.Errorf("QEMU exited (%v) before %q", g.waitErr, s)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q on the console: %w", s, ctx.Err())
		}
	}
}

// Console returns the last n bytes of the console.
func (g *Guest) Console(n int) string { return g.console.tail(n) }

// Agent is a client for the guest's agent, connecting from the lab's
// client netns across the bridge and the tap.
func (g *Guest) Agent() *guestagent.Client {
	return &guestagent.Client{
		Addr: netip.AddrPortFrom(g.VM.IP, guestagent.Port).String(),
		Dial: g.dialFromClient,
	}
}

func (g *Guest) dialFromClient(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := vmlab.InNetns(g.lab.ClientNetnsPath(), func() error {
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

// Exited is closed once QEMU has exited.
func (g *Guest) Exited() <-chan struct{} { return g.exited }

// Shutdown powers the guest off cleanly (its /init stops the collector
// first) and waits for QEMU to exit; past ctx it kills QEMU and says so.
func (g *Guest) Shutdown(ctx context.Context) error {
	err := g.Agent().PowerOff(ctx)
	if err == nil {
		select {
		case <-g.exited:
			if g.waitErr != nil {
				return fmt.Errorf("qemu %s: exit after poweroff: %w", g.VM.Name, g.waitErr)
			}
			return g.Close()
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	return errors.Join(fmt.Errorf("qemu %s: no clean poweroff: %w", g.VM.Name, err), g.Close())
}

// Close kills QEMU if it still runs, waits for it and closes the console
// log. Safe to call twice and after Shutdown.
func (g *Guest) Close() error {
	g.closeOnce.Do(func() {
		select {
		case <-g.exited:
		default:
			_ = g.cmd.Process.Kill()
			<-g.exited
		}
		g.console.close()
	})
	return nil
}

// console is QEMU's stdout and stderr: kept in memory for waiting and
// error messages, and copied to the console log.
type console struct {
	mu      sync.Mutex
	f       *os.File
	buf     []byte
	changed chan struct{} // closed and replaced on every write
}

// consoleMax bounds the in-memory copy; the log file has everything.
const consoleMax = 4 << 20

func newConsole(path string) (*console, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("qemu console log: %w", err)
	}
	return &console{f: f, changed: make(chan struct{})}, nil
}

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		_, _ = c.f.Write(p) // a full disk must not stall QEMU; memory keeps the tail
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) > consoleMax {
		c.buf = c.buf[len(c.buf)-consoleMax:]
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return len(p), nil
}

func (c *console) snapshot() (string, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf), c.changed
}

func (c *console) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) > n {
		return string(c.buf[len(c.buf)-n:])
	}
	return string(c.buf)
}

func (c *console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}
