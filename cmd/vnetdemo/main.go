// Command vnetdemo tells the vnetpath story on this machine, with figures:
// a two-VM lab (internal/vmlab), the otelcol-vnetpath distribution watching
// it with deploy/demo.yaml, baseline traffic, a tap ring overflow injected
// on one VM, what the collector reported against the kernel's own counters,
// the trigger that fired, what the actions changed, and the recovery. Then
// it tears everything down. Run as root (make demo).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/vnetpath/vnetpath/internal/promtext"
	"github.com/vnetpath/vnetpath/internal/vmlab"
)

// The fault: a 64-slot tap ring and a VMM that takes 1 ms per frame, hit by
// bursts of 128 datagrams every 500 ms. Half of each burst overflows the
// ring; a ring of 256 holds a whole burst, and the VMM drains it in time.
const (
	ringSlots  = 64
	vmmDelay   = time.Millisecond
	burst      = 128
	burstEvery = 500 * time.Millisecond
)

func main() {
	dist := flag.String("dist", "_build/otelcol-vnetpath", "the otelcol-vnetpath binary")
	config := flag.String("config", "deploy/demo.yaml", "the collector configuration")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if err := run(ctx, *dist, *config); err != nil {
		fmt.Fprintln(os.Stderr, "vnetdemo:", err)
		os.Exit(1)
	}
	fmt.Printf("\nDone in %s; the lab and the collector are gone.\n", time.Since(start).Round(100*time.Millisecond))
}

// story prints a step of the demo with the time since it began.
type story struct{ t0 time.Time }

func (s story) say(format string, args ...any) {
	fmt.Printf("[%5.1fs] %s\n", time.Since(s.t0).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, dist, config string) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: network namespaces, taps and BPF (try sudo make demo)")
	}
	st := story{t0: time.Now()}
	lab, err := vmlab.New(ctx, vmlab.Options{VMs: 2})
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer lab.Close()
	vm0, vm1 := lab.VM(0), lab.VM(1)
	st.say("Lab %s up: a client namespace %s behind a bridge, and two VMs:", lab.ID, lab.ClientIP)
	for _, vm := range lab.AllVMs() {
		fmt.Printf("         %s  tap %s  VMM pid %d (worker thread vhost-%d)  guest %s\n", vm.Name, vm.HostTap, vm.PID, vm.PID, vm.IP)
	}

	col, err := startCollector(dist, config, vm0.HostTap, vm1.HostTap)
	if err != nil {
		return err
	}
	defer col.stop()
	st.say("otelcol-vnetpath running with %s; metrics at http://%s/metrics, log in %s", config, col.prom, col.log)
	if err := col.waitSeries(ctx, vm0, vm1); err != nil {
		return err
	}

	if err := baseline(ctx, st, lab, col, vm0, vm1); err != nil {
		return err
	}
	return overflow(ctx, st, lab, col, vm0, vm1)
}

// baseline sends the same burst to both VMs and compares the collector's
// packet counts with what each VMM read.
func baseline(ctx context.Context, st story, lab *vmlab.Lab, col *collector, vms ...*vmlab.VM) error {
	before, err := col.scrape(ctx)
	if err != nil {
		return err
	}
	st.say("Baseline: 1000 UDP datagrams to each VM.")
	for _, vm := range vms {
		vmmBefore, err := vm.Control.Stats()
		if err != nil {
			return err
		}
		res, err := vmlab.UDPBurst(ctx, lab.Client(), vm.Guest(), vmlab.UDPSpec{Count: 1000, Size: 200, Rate: 5000}, 300*time.Millisecond)
		if err != nil {
			return err
		}
		vmmAfter, err := vm.Control.Stats()
		if err != nil {
			return err
		}
		time.Sleep(600 * time.Millisecond) // two collections
		after, err := col.scrape(ctx)
		if err != nil {
			return err
		}
		got := packets(after, vm) - packets(before, vm)
		read := vmmAfter.ToGuest.FramesRead - vmmBefore.ToGuest.FramesRead
		fmt.Printf("         %s: %d sent, %d arrived; collector: %d packets to the VM; the VMM read %d\n",
			vm.Name, res.Sent, res.Received, int64(got), read)
		if uint64(got) != read {
			return fmt.Errorf("%s: the collector counted %d packets, the VMM read %d", vm.Name, int64(got), read)
		}
	}
	return nil
}

// overflow injects the ring overflow on one VM and follows the collector
// through detection, action and recovery.
func overflow(ctx context.Context, st story, lab *vmlab.Lab, col *collector, vm, other *vmlab.VM) error {
	if err := vm.SetTxQueueLen(ringSlots); err != nil {
		return err
	}
	if err := vm.Control.SetDelay(vmmDelay); err != nil {
		return err
	}
	tapBefore, err := vm.HostTapStats()
	if err != nil {
		return err
	}
	sigBefore, err := vm.Control.Stats()
	if err != nil {
		return err
	}
	before, err := col.scrape(ctx)
	if err != nil {
		return err
	}
	st.say("Fault on %s: its tap ring cut to %d slots and its VMM slowed to %s per frame; bursts of %d datagrams every %s.",
		vm.Name, ringSlots, vmmDelay, burst, burstEvery)
	faultAt := time.Now()

	tctx, stopTraffic := context.WithCancel(ctx)
	sent := make(chan int, 1)
	go func() { sent <- bursts(tctx, lab, vm) }()
	defer stopTraffic()

	var firedAt, okAt time.Time
	var sawDrops bool
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && okAt.IsZero() {
		time.Sleep(250 * time.Millisecond)
		s, err := col.scrape(ctx)
		if err != nil {
			return err
		}
		drops := sumDrops(s, vm, "FULL_RING") - sumDrops(before, vm, "FULL_RING")
		if drops > 0 && !sawDrops {
			sawDrops = true
			st.say("The tap drops: %d packets FULL_RING on %s so far (vnet_packet_drops_total).", int64(drops), vm.HostTap)
		}
		state, known := triggerState(s, vm)
		switch {
		case known && state == 2 && firedAt.IsZero():
			firedAt = time.Now()
			st.say("Trigger ring-overflow firing for %s: drop ratio %.3f over 1s (vnet_sli_value); its actions run.", vm.Name, sliValue(s, vm))
		case known && state == 0 && !firedAt.IsZero():
			okAt = time.Now()
			st.say("Trigger back to ok: drop ratio %.3f over 1s.", sliValue(s, vm))
		}
	}
	stopTraffic()
	n := <-sent
	time.Sleep(600 * time.Millisecond)
	after, err := col.scrape(ctx)
	if err != nil {
		return err
	}
	if firedAt.IsZero() {
		return errors.New("the trigger never fired within 30s")
	}
	tapAfter, err := vm.HostTapStats()
	if err != nil {
		return err
	}
	qlen, err := vm.TxQueueLen()
	if err != nil {
		return err
	}
	sigAfter, err := vm.Control.Stats()
	if err != nil {
		return err
	}
	reported := sumDrops(after, vm, "") - sumDrops(before, vm, "")
	fmt.Println()
	st.say("What happened, in figures:")
	fmt.Printf("         sent %d datagrams to %s in bursts\n", n, vm.Name)
	fmt.Printf("         the tap's own tx_dropped rose by %d; the collector reported %d drops (every reason) for %s on %s\n",
		tapAfter.Sub(tapBefore).TxDropped, int64(reported), vm.Name, vm.HostTap)
	for _, line := range actionOutcomes(after) {
		fmt.Println("         vnet_remediation_actions_total:", line)
	}
	fmt.Printf("         the action grow-ring raised %s's txqueuelen from %d to %d; the VMM counted %d SIGUSR1 from kick-vmm\n",
		vm.HostTap, ringSlots, qlen, sigAfter.SIGUSR1-sigBefore.SIGUSR1)
	if !okAt.IsZero() {
		fmt.Printf("         the trigger fired %.1fs after the fault began and was ok again %.1fs after firing\n",
			firedAt.Sub(faultAt).Seconds(), okAt.Sub(firedAt).Seconds())
	}
	fmt.Printf("         %s, untouched: %d drops reported\n", other.Name, int64(sumDrops(after, other, "")-sumDrops(before, other, "")))
	if tr := col.dropTrace(vm); tr != "" {
		fmt.Println("         one dropped datagram's trace (always traced, even unsampled):")
		fmt.Print(tr)
	}
	switch {
	case uint64(reported) != tapAfter.Sub(tapBefore).TxDropped:
		return fmt.Errorf("the collector reported %d drops, the tap dropped %d", int64(reported), tapAfter.Sub(tapBefore).TxDropped)
	case qlen != 4*ringSlots || sigAfter.SIGUSR1-sigBefore.SIGUSR1 != 1:
		return fmt.Errorf("the actions left txqueuelen %d and %d SIGUSR1, want %d and 1", qlen, sigAfter.SIGUSR1-sigBefore.SIGUSR1, 4*ringSlots)
	case okAt.IsZero():
		return errors.New("the trigger did not return to ok within 30s")
	}
	return nil
}

// bursts sends bursts until ctx ends and returns how many datagrams left.
func bursts(ctx context.Context, lab *vmlab.Lab, vm *vmlab.VM) int {
	rx, err := vmlab.ListenUDP(vm.Guest(), 0)
	if err != nil {
		return 0
	}
	defer rx.Close()
	total := 0
	tick := time.NewTicker(burstEvery)
	defer tick.Stop()
	for {
		n, _ := vmlab.SendUDP(ctx, lab.Client(), rx.Addr(), vmlab.UDPSpec{Count: burst, Size: 64})
		total += n
		select {
		case <-ctx.Done():
			return total
		case <-tick.C:
		}
	}
}

func vmLabels(vm *vmlab.VM) map[string]string {
	return map[string]string{"vm_name": vm.Name, "network_interface_name": vm.HostTap}
}

func packets(s promtext.Samples, vm *vmlab.VM) float64 {
	m := vmLabels(vm)
	m["network_io_direction"] = "transmit"
	return s.Sum("vnet_interface_packets_total", m)
}

func sumDrops(s promtext.Samples, vm *vmlab.VM, reason string) float64 {
	m := vmLabels(vm)
	if reason != "" {
		m["vnet_drop_reason"] = reason
	}
	return s.Sum("vnet_packet_drops_total", m)
}

// triggerState reads vnet.trigger.state (0 ok, 1 pending, 2 firing, 3
// recovering, 4 no_data) of the VM's tap.
func triggerState(s promtext.Samples, vm *vmlab.VM) (float64, bool) {
	for _, x := range s {
		if strings.HasPrefix(x.Name, "vnet_trigger_state") && x.Labels["vm_name"] == vm.Name {
			return x.Value, true
		}
	}
	return 0, false
}

func sliValue(s promtext.Samples, vm *vmlab.VM) float64 {
	for _, x := range s {
		if strings.HasPrefix(x.Name, "vnet_sli_value") && x.Labels["vm_name"] == vm.Name && x.Labels["vnet_sli_window"] == "1s" {
			return x.Value
		}
	}
	return 0
}

func actionOutcomes(s promtext.Samples) []string {
	var out []string
	for _, x := range s {
		if strings.HasPrefix(x.Name, "vnet_remediation_actions") {
			out = append(out, fmt.Sprintf("%s (%s): %s x%.0f", x.Labels["vnet_action_name"], x.Labels["vnet_action_type"], x.Labels["vnet_action_outcome"], x.Value))
		}
	}
	return out
}

// collector is the running distribution.
type collector struct {
	cmd    *exec.Cmd
	prom   string
	log    string
	traces string
	done   chan error
}

func startCollector(dist, config, tap0, tap1 string) (*collector, error) {
	if _, err := os.Stat(dist); err != nil {
		return nil, fmt.Errorf("%w: run make build", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vnetdemo-")
	if err != nil {
		return nil, err
	}
	c := &collector{prom: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(dir, "collector.log"),
		traces: filepath.Join(dir, "traces.json"), done: make(chan error, 1)}
	logf, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(dist, "--config", config)
	c.cmd.Env = append(os.Environ(), "VNETDEMO_TAP0="+tap0, "VNETDEMO_TAP1="+tap1, "VNETDEMO_PROM="+c.prom, "VNETDEMO_TRACES="+c.traces)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", dist, err)
	}
	go func() { c.done <- c.cmd.Wait(); logf.Close() }()
	return c, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *collector) scrape(ctx context.Context) (promtext.Samples, error) {
	return promtext.Scrape(ctx, "http://"+c.prom+"/metrics")
}

// waitSeries waits until the collector reports both VMs' taps.
func (c *collector) waitSeries(ctx context.Context, vms ...*vmlab.VM) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			return fmt.Errorf("the collector exited (%v); see %s", err, c.log)
		default:
		}
		if s, err := c.scrape(ctx); err == nil {
			seen := 0
			for _, vm := range vms {
				if len(s.Find("vnet_interface_packets_total", vmLabels(vm))) > 0 {
					seen++
				}
			}
			if seen == len(vms) {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the collector did not report the lab's taps within 20s; see %s", c.log)
}

// dropTrace renders one trace of a drop on vm's tap from the traces file.
func (c *collector) dropTrace(vm *vmlab.VM) string {
	f, err := os.Open(c.traces)
	if err != nil {
		return ""
	}
	defer f.Close()
	var u ptrace.JSONUnmarshaler
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		td, err := u.UnmarshalTraces(sc.Bytes())
		if err != nil {
			continue
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					a := s.Attributes().AsRaw()
					if s.Name() != "drop" || a["vm.name"] != vm.Name {
						continue
					}
					return fmt.Sprintf("           trace %s\n             drop  %s  %s -> %s:%v  on %s (VM %s)  status %s\n",
						s.TraceID(), s.Status().Message(), a["source.address"], a["destination.address"], a["destination.port"],
						a["network.interface.name"], a["vm.name"], s.Status().Code())
				}
			}
		}
	}
	return ""
}

func (c *collector) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
	}
}
