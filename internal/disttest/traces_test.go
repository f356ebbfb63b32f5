//go:build disttest

package disttest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/vnetpath/vnetpath/internal/identity"
	"github.com/vnetpath/vnetpath/internal/pathtrace"
	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeConfig(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tracesService is a collector's service section: one traces pipeline, and
// the collector's own metrics on selfPort instead of 8888, so that two
// collectors run side by side.
func tracesService(selfPort int, receiver, exporter string) string {
	return fmt.Sprintf(`service:
  telemetry:
    metrics:
      readers:
        - pull: {exporter: {prometheus: {host: 127.0.0.1, port: %d}}}
  pipelines:
    traces:
      receivers: [%s]
      exporters: [%s]
`, selfPort, receiver, exporter)
}

// TestTracesSurviveOTLP: packet-path traces exported over OTLP/gRPC into a
// second collector (otlp receiver -> file exporter), what a backend such as
// Jaeger reads, keep their trace ids, span ids and parent links: each trace
// id is still the keyed hash of the packet's identity, each hop's parent
// the trace's root.
func TestTracesSurviveOTLP(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	dir := t.TempDir()
	port, selfA, selfB := freePort(t), freePort(t), freePort(t)
	out := filepath.Join(dir, "traces.json")

	backend := startCollector(t, writeConfig(t, dir, "backend.yaml", fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
exporters:
  file:
    path: %s
    flush_interval: 100ms
`, port, out)+tracesService(selfB, "otlp", "file")))
	host := startCollector(t, writeConfig(t, dir, "host.yaml", fmt.Sprintf(`receivers:
  vnet_host:
    probes: [devices]
    interfaces:
      include: [%s]
    tracing:
      sampling_ratio: 1
      flush_interval: 200ms
exporters:
  otlp_grpc:
    endpoint: 127.0.0.1:%d
    tls:
      insecure: true
`, vm.HostTap, port)+tracesService(selfA, "vnet_host", "otlp_grpc")))
	time.Sleep(2 * time.Second) // both collectors up, the tap discovered

	const n = 100
	res, err := vmlab.UDPBurst(context.Background(), lab.Client(), vm.Guest(), vmlab.UDPSpec{Count: n, Size: 80, Rate: 1000}, 300*time.Millisecond)
	if err != nil || res.Received != n {
		t.Fatalf("burst: %+v, %v", res, err)
	}
	time.Sleep(2 * time.Second) // host batch, export, backend flush
	if err := host.stop(t); err != nil {
		t.Fatalf("host collector exit: %v", err)
	}
	if err := backend.stop(t); err != nil {
		t.Fatalf("backend collector exit: %v", err)
	}

	key := identity.NewKey(pathtrace.DefaultKey)
	traces := map[pcommon.TraceID][]ptrace.Span{}
	for _, td := range readTraces(t, out) {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					src, _ := s.Attributes().Get("source.address")
					if src.Str() == lab.ClientIP.String() {
						traces[s.TraceID()] = append(traces[s.TraceID()], s)
					}
				}
			}
		}
	}
	if len(traces) != n {
		t.Fatalf("%d traces arrived, want %d", len(traces), n)
	}
	for id, ss := range traces {
		root := identity.RootSpanID(key, id)
		var flow identity.Flow
		hops := 0
		for _, s := range ss {
			if s.Name() == "packet" {
				if s.SpanID() != root || !s.ParentSpanID().IsEmpty() {
					t.Fatalf("trace %s: root span %s parent %s, want %s", id, s.SpanID(), s.ParentSpanID(), root)
				}
				flow = flowOf(t, s.Attributes())
				continue
			}
			hops++
			if s.ParentSpanID() != root {
				t.Fatalf("trace %s: %s's parent %s, want the root %s", id, s.Name(), s.ParentSpanID(), root)
			}
		}
		if hops != 3 {
			t.Fatalf("trace %s: %d hop spans, want host.rx, tap.enqueue, tap.ring", id, hops)
		}
		if got := identity.TraceID(key, flow); got != id {
			t.Fatalf("trace id %s is not the identity's %s", id, got)
		}
	}
}

// flowOf rebuilds a UDP packet's identity from its root span's attributes.
func flowOf(t *testing.T, m pcommon.Map) identity.Flow {
	t.Helper()
	get := func(k string) pcommon.Value {
		v, ok := m.Get(k)
		if !ok {
			t.Fatalf("root span lacks %s", k)
		}
		return v
	}
	src := netip.AddrPortFrom(netip.MustParseAddr(get("source.address").Str()), uint16(get("source.port").Int()))
	dst := netip.AddrPortFrom(netip.MustParseAddr(get("destination.address").Str()), uint16(get("destination.port").Int()))
	f, err := identity.UDP(src, dst, uint32(get("vnet.packet.ip.id").Int()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// readTraces parses the file exporter's JSON lines.
func readTraces(t *testing.T, path string) []ptrace.Traces {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ptrace.Traces
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var u ptrace.JSONUnmarshaler
	for sc.Scan() {
		td, err := u.UnmarshalTraces(sc.Bytes())
		if err != nil {
			t.Fatalf("file exporter line: %v", err)
		}
		out = append(out, td)
	}
	return out
}
