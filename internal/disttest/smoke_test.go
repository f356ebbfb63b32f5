//go:build disttest

package disttest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/vnetpath/vnetpath/internal/promtext"
	"github.com/vnetpath/vnetpath/internal/testenv"
)

var dist = flag.String("dist", "../../_build/otelcol-vnetpath", "path of the otelcol-vnetpath binary")

const (
	hostConfig = "../../deploy/host.yaml"
	metricsURL = "http://127.0.0.1:8889/metrics"
	selfURL    = "http://127.0.0.1:8888/metrics"
)

// collector is a running distribution process.
type collector struct {
	cmd    *exec.Cmd
	logs   *bytes.Buffer // written by the process: read it once exited is closed
	exited chan struct{}
	err    error // of Wait, valid once exited is closed
}

func startCollector(t *testing.T, config string, extra ...func(*exec.Cmd)) *collector {
	t.Helper()
	cmd := exec.Command(*dist, "--config", config)
	c := &collector{cmd: cmd, logs: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	for _, f := range extra {
		f(cmd)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", *dist, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			t.Logf("collector output:\n%s", c.logs)
		}
	})
	return c
}

// stop sends SIGTERM and returns the exit error.
func (c *collector) stop(t *testing.T) error {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return c.err
	case <-time.After(20 * time.Second):
		t.Fatal("collector did not exit within 20s of SIGTERM")
		return nil
	}
}

// waitFor scrapes url until cond holds on a scrape or the deadline passes.
func waitFor(t *testing.T, url string, within time.Duration, cond func(promtext.Samples) bool) promtext.Samples {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s, err := promtext.Scrape(context.Background(), url)
		if err == nil && cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: condition not met within %v (last error %v)", url, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func netRX(s promtext.Samples) float64 {
	return s.Sum("vnet_softirq_count_total", map[string]string{"vnet_softirq_vector": "NET_RX"})
}

// loopbackUDP sends packets to ourselves, which raises NET_RX softirqs.
func loopbackUDP(t *testing.T, n int) {
	t.Helper()
	in, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := net.DialUDP("udp", nil, in.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for range n {
		if _, err := out.Write([]byte("smoke")); err != nil {
			t.Fatal(err)
		}
	}
}

// vnetPrograms lists loaded BPF programs whose name carries our prefix.
func vnetPrograms(t *testing.T) []string {
	t.Helper()
	var names []string
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return names
		}
		if err != nil {
			t.Fatalf("iterate programs: %v", err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(next)
		if err != nil {
			continue // unloaded meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err == nil && strings.HasPrefix(info.Name, "vnet_") {
			names = append(names, fmt.Sprintf("%d:%s", next, info.Name))
		}
	}
}

func waitNoPrograms(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := vnetPrograms(t)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("BPF programs still loaded 5s after exit: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHostConfig runs deploy/host.yaml: NET_RX series appear within 5s and
// grow, SIGTERM exits 0 and unloads every program.
func TestHostConfig(t *testing.T) {
	testenv.RequireRoot(t)
	if left := vnetPrograms(t); len(left) != 0 {
		t.Fatalf("vnet programs loaded before the test: %v", left)
	}
	c := startCollector(t, hostConfig)
	loopbackUDP(t, 1000)
	first := waitFor(t, metricsURL, 5*time.Second, func(s promtext.Samples) bool { return netRX(s) > 0 })
	loopbackUDP(t, 1000)
	// deploy/host.yaml collects every 5s.
	waitFor(t, metricsURL, 12*time.Second, func(s promtext.Samples) bool { return netRX(s) > netRX(first) })
	self := waitFor(t, selfURL, 5*time.Second, func(s promtext.Samples) bool {
		return len(s.Find("otelcol_vnet_host_probe_groups", nil)) > 0
	})
	if got := self.Sum("otelcol_vnet_host_probe_groups", map[string]string{"group": "softirq", "state": "active"}); got != 1 {
		t.Errorf("softirq group gauge = %v, want 1", got)
	}
	if err := c.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	waitNoPrograms(t)
}

// TestUnprivileged runs as nobody: every probe group reports why it is
// disabled, the self-metric says so, and the collector keeps running.
func TestUnprivileged(t *testing.T) {
	testenv.RequireRoot(t) // to switch to nobody
	// nobody must be able to reach the binary and the config.
	dir, err := os.MkdirTemp("", "vnetpath-smoke-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, config := filepath.Join(dir, "otelcol-vnetpath"), filepath.Join(dir, "host.yaml")
	copyFile(t, *dist, bin, 0o755)
	copyFile(t, hostConfig, config, 0o644)
	c := startCollector(t, config, func(cmd *exec.Cmd) {
		cmd.Path = bin
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	})
	self := waitFor(t, selfURL, 10*time.Second, func(s promtext.Samples) bool {
		return len(s.Find("otelcol_vnet_host_probe_groups", nil)) > 0
	})
	for _, g := range self.Find("otelcol_vnet_host_probe_groups", nil) {
		if g.Value != 0 || g.Labels["state"] != "disabled" || !strings.Contains(g.Labels["reason"], "permission denied") {
			t.Errorf("group %s: value %v state %q reason %q", g.Labels["group"], g.Value, g.Labels["state"], g.Labels["reason"])
		}
	}
	if err := c.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if !strings.Contains(c.logs.String(), `"group": "softirq", "reason": "permission denied`) {
		t.Errorf("no per-group log line about the missing privilege")
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestBadConfig: the collector refuses to start and names the component,
// the field and the allowed values.
func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ receiver, want string }{
		"unknown_probe": {"probes: [softirq, bogus]", `vnet_host`},
		"zero_interval": {"collection_interval: 0s", `"collection_interval": requires positive value`},
		"unknown_key":   {"probez: [softirq]", `has invalid keys: probez`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(dir, name+".yaml")
			body := fmt.Sprintf(`receivers:
  vnet_host:
    %s
exporters:
  debug:
service:
  pipelines:
    metrics:
      receivers: [vnet_host]
      exporters: [debug]
`, tc.receiver)
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(*dist, "validate", "--config", cfg).CombinedOutput()
			if err == nil {
				t.Fatalf("validate accepted %s", body)
			}
			for _, want := range []string{"vnet_host", tc.want} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	out, _ := exec.Command(*dist, "validate", "--config", filepath.Join(dir, "unknown_probe.yaml")).CombinedOutput()
	if !strings.Contains(string(out), `probes: unknown probe group "bogus"; allowed: softirq`) {
		t.Errorf("unknown probe message lacks the allowed values:\n%s", out)
	}
}
