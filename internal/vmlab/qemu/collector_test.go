//go:build disttest

package qemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/internal/vmlab/guestagent"
)

// The built distribution, as internal/disttest takes it; make build makes
// it static (ocb builds with CGO_ENABLED=0), so the guest runs it as is.
var dist = flag.String("dist", "../../../_build/otelcol-vnetpath", "path of the otelcol-vnetpath binary")

// collectorReady is what the collector logs once every pipeline runs.
const collectorReady = "Everything is ready"

// hostCollector runs the distribution on the host with testdata/host-otlp.yaml:
// OTLP received on listen and vnet_host's metrics of tap go to the returned
// file.
func hostCollector(t *testing.T, listen, tap string) (out string, logs *syncBuffer) {
	t.Helper()
	abs, err := filepath.Abs(*dist)
	if err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(t.TempDir(), "otlp.json")
	logs = &syncBuffer{}
	cmd := exec.Command(abs, "--config", "testdata/host-otlp.yaml")
	cmd.Env = append(os.Environ(), "VNETLAB_OTLP_LISTEN="+listen, "VNETLAB_OTLP_FILE="+out, "VNETLAB_TAP="+tap)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", abs, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("host collector exit: %v", err)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("host collector ignored SIGTERM for 20s")
		}
		if t.Failed() {
			t.Logf("host collector output:\n%s", logs)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), collectorReady) {
		if time.Now().After(deadline) {
			t.Fatalf("host collector not ready within 30s:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return out, logs
}

// fileLines returns the JSON lines the host collector's file exporter
// wrote, a traces or a metrics payload each; none while the file is absent.
func fileLines(t *testing.T, file string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return slices.Collect(bytes.Lines(b))
}

// fileSpans calls fn with every span in the file and its resource.
func fileSpans(t *testing.T, file string, fn func(pcommon.Resource, ptrace.Span)) {
	t.Helper()
	var um ptrace.JSONUnmarshaler
	for _, line := range fileLines(t, file) {
		td, err := um.UnmarshalTraces(line)
		if err != nil {
			continue // a metrics line
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					fn(rs.Resource(), sp)
				}
			}
		}
	}
}

// spansWith returns the spans in the file whose NonceKey attribute is
// nonce, with their resources.
func spansWith(t *testing.T, file, nonce string) (spans []ptrace.Span, resources []map[string]any) {
	t.Helper()
	fileSpans(t, file, func(res pcommon.Resource, sp ptrace.Span) {
		if v, ok := sp.Attributes().Get(guestagent.NonceKey); ok && v.Str() == nonce {
			spans = append(spans, sp)
			resources = append(resources, res.Attributes().AsRaw())
		}
	})
	return spans, resources
}

// tapAttribution returns the attributes of a vnet.interface.packets point of
// tap that names vm, nil if the file has none yet.
func tapAttribution(t *testing.T, file, tap, vm string) map[string]any {
	t.Helper()
	var um pmetric.JSONUnmarshaler
	for _, line := range fileLines(t, file) {
		md, err := um.UnmarshalMetrics(line)
		if err != nil {
			continue // a traces line
		}
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() != "vnet.interface.packets" || m.Type() != pmetric.MetricTypeSum {
						continue
					}
					for _, dp := range m.Sum().DataPoints().All() {
						a := dp.Attributes().AsRaw()
						if a["network.interface.name"] == tap && a["vm.name"] == vm {
							return a
						}
					}
				}
			}
		}
	}
	return nil
}

// The distribution runs inside the guest: vnet_guest starts on the virtio
// NIC, and the guest collector's OTLP/gRPC export crosses virtio-net, the
// tap and the bridge to a host collector. The proof is a span the guest's
// agent hands to the guest collector (its loopback OTLP receiver, the same
// pipeline and exporter that vnet_guest's traces take), which must arrive on
// the host exactly once, ids and attributes intact. On the host, vnet_host
// attributes the guest's tap to QEMU's pid and VM name.
func TestGuestCollectorExportsToHost(t *testing.T) {
	testenv.RequireRoot(t)
	total := time.Now()
	abs, err := filepath.Abs(*dist)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("%v: run make build first (or pass -dist)", err)
	}
	lab := labT(t)
	out, _ := hostCollector(t, lab.HostIP.String()+":4317", lab.VM(0).HostTap)
	g, img := bootT(t, lab, Spec{Collector: abs, CollectorConfig: "testdata/guest-trace.yaml"})
	if !img.Collector {
		t.Fatal("image without the collector")
	}
	ctx := testenv.Context(t, 5*time.Minute)
	start := time.Now()
	for _, line := range []string{"vnet_guest probes attached", collectorReady} {
		if err := g.WaitConsole(ctx, line); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("guest collector ready %s after the agent", time.Since(start).Round(time.Millisecond))

	var nb [8]byte
	_, _ = rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	start = time.Now()
	ref, err := g.Agent().Span(ctx, "127.0.0.1:4317", "vnetlab.probe", nonce)
	if err != nil {
		t.Fatal(err)
	}
	var spans []ptrace.Span
	var res []map[string]any
	for deadline := time.Now().Add(60 * time.Second); len(spans) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		spans, res = spansWith(t, out, nonce)
	}
	if len(spans) != 1 {
		t.Fatalf("host received %d spans with nonce %s, want 1", len(spans), nonce)
	}
	t.Logf("probe span on the host %s after the agent sent it", time.Since(start).Round(time.Millisecond))
	sp := spans[0]
	if sp.Name() != "vnetlab.probe" || sp.TraceID().String() != ref.TraceID || sp.SpanID().String() != ref.SpanID {
		t.Errorf("span %s trace %s span %s, want vnetlab.probe %s %s", sp.Name(), sp.TraceID(), sp.SpanID(), ref.TraceID, ref.SpanID)
	}
	if res[0]["host.name"] != g.VM.Name || res[0]["service.name"] != "vnetlab-guest" {
		t.Errorf("span resource %v, want host.name %s and service.name vnetlab-guest", res[0], g.VM.Name)
	}

	// vnet_host on the host attributes the tap to the QEMU process.
	var attr map[string]any
	for deadline := time.Now().Add(30 * time.Second); attr == nil && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		attr = tapAttribution(t, out, g.VM.HostTap, g.VM.Name)
	}
	if attr == nil {
		t.Errorf("no vnet.interface.packets point for %s with vm.name %s in the host file", g.VM.HostTap, g.VM.Name)
	} else if attr["process.pid"] != int64(g.PID) {
		t.Errorf("tap %s attributed to %v, want process.pid %d", g.VM.HostTap, attr, g.PID)
	}

	checkPacketTraces(t, ctx, lab, g, out)

	// A clean poweroff stops the guest collector first.
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if c := g.Console(64 << 10); !strings.Contains(c, "Shutdown complete.") {
		t.Errorf("guest collector did not log a complete shutdown before poweroff")
	}
	t.Logf("total %s (guest ready %s after QEMU started)", time.Since(total).Round(time.Millisecond), g.Ready.Round(time.Millisecond))
}

// syncBuffer is a bytes.Buffer shared by a process's output copiers and the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// chunks is a slow TCP stream: one small write every 20 ms, each its own
// segment arriving alone, so guest GRO merges none of them.
type chunks struct {
	n, size int
	gap     time.Duration
}

func (c *chunks) Read(p []byte) (int, error) {
	if c.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(c.gap)
	c.n--
	return copy(p[:min(len(p), c.size)], bytes.Repeat([]byte{'v'}, c.size)), nil
}

// checkPacketTraces: with every packet followed on both sides, each data
// segment of a TCP stream into the guest is one trace holding the host's
// hops (host.rx, tap.enqueue, tap.ring dequeued by QEMU's own thread) and
// the guest's (virtio.rx on its virtio NIC, tcp.rcv), all under one root.
func checkPacketTraces(t *testing.T, ctx context.Context, lab *vmlab.Lab, g *Guest, out string) {
	t.Helper()
	const segments, payload = 50, 100
	sent, received, err := g.Agent().Sink(ctx, &chunks{n: segments, size: payload, gap: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sent != received || sent.Bytes != segments*payload {
		t.Fatalf("stream sent %+v, guest received %+v", sent, received)
	}
	// A data segment's frame: Ethernet, IPv4 and TCP with timestamps, then the payload.
	const frame = 14 + 20 + 32 + payload
	var traces map[pcommon.TraceID][]ptrace.Span
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		traces = segmentTraces(t, out, lab.ClientIP.String(), g.VM.IP.String(), frame)
		if len(traces) == segments && complete(traces) {
			break
		}
	}
	if len(traces) != segments {
		t.Fatalf("%d traces of %d-byte segments, want %d", len(traces), frame, segments)
	}
	for id, ss := range traces {
		byName := map[string]ptrace.Span{}
		for _, s := range ss {
			byName[s.Name()] = s
		}
		root, ok := byName["packet"]
		if !ok || len(ss) != 6 {
			t.Fatalf("trace %s: spans %v, want packet, host.rx, tap.enqueue, tap.ring, virtio.rx, tcp.rcv", id, spanNames(ss))
		}
		for _, s := range ss {
			if s.Name() != "packet" && s.ParentSpanID() != root.SpanID() {
				t.Fatalf("trace %s: %s's parent %s is not the root %s", id, s.Name(), s.ParentSpanID(), root.SpanID())
			}
		}
		ring := byName["tap.ring"].Attributes().AsRaw()
		if ring["thread.id"] != int64(g.PID) || ring["process.pid"] != int64(g.PID) || ring["vm.name"] != g.VM.Name {
			t.Fatalf("trace %s: tap.ring %v, want dequeued by QEMU's thread %d of VM %s", id, ring, g.PID, g.VM.Name)
		}
		if nic := byName["virtio.rx"].Attributes().AsRaw()["network.interface.name"]; nic != "eth0" {
			t.Fatalf("trace %s: virtio.rx on %v, want the guest's eth0", id, nic)
		}
	}
}

func complete(traces map[pcommon.TraceID][]ptrace.Span) bool {
	for _, ss := range traces {
		if len(ss) < 6 {
			return false
		}
	}
	return true
}

func spanNames(ss []ptrace.Span) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name())
	}
	return out
}

// segmentTraces returns the traces of TCP packets from src to dst whose
// tap.enqueue carried a frame of the given length, with all their spans.
func segmentTraces(t *testing.T, file, src, dst string, frame int64) map[pcommon.TraceID][]ptrace.Span {
	t.Helper()
	all := map[pcommon.TraceID][]ptrace.Span{}
	want := map[pcommon.TraceID]bool{}
	fileSpans(t, file, func(_ pcommon.Resource, sp ptrace.Span) {
		a := sp.Attributes().AsRaw()
		if a["network.transport"] != "tcp" || a["source.address"] != src || a["destination.address"] != dst {
			return
		}
		all[sp.TraceID()] = append(all[sp.TraceID()], sp)
		if sp.Name() == "tap.enqueue" && a["vnet.packet.length"] == frame {
			want[sp.TraceID()] = true
		}
	})
	out := map[pcommon.TraceID][]ptrace.Span{}
	for id := range want {
		out[id] = all[id]
	}
	return out
}
