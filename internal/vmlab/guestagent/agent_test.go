package guestagent

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

// serve runs srv on a loopback port until the test ends.
func serve(t *testing.T, srv *Server) *Client {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &Client{Addr: ln.Addr().String()}
}

func TestInfoReadsSysfs(t *testing.T) {
	sys := t.TempDir()
	dev := filepath.Join(sys, "class/net/eth0")
	drv := filepath.Join(sys, "bus/virtio/drivers/virtio_net")
	for _, d := range []string{dev, drv, filepath.Join(sys, "kernel/btf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dev, "address"), []byte("02:76:9e:00:05:00\n"), 0o644))
	must(os.WriteFile(filepath.Join(sys, "kernel/btf/vmlinux"), nil, 0o644))
	must(os.MkdirAll(filepath.Join(dev, "device"), 0o755))
	must(os.Symlink("../../../bus/virtio/drivers/virtio_net", filepath.Join(dev, "device/driver")))

	info, err := serve(t, &Server{Interface: "eth0", Sys: sys}).Info(testenv.Context(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	want := Info{Interface: "eth0", Driver: "virtio_net", MAC: "02:76:9e:00:05:00", Kernel: unix.ByteSliceToString(uts.Release[:]), BTF: true}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("info (-want +got):\n%s", diff)
	}

	_, err = serve(t, &Server{Interface: "eth9", Sys: sys}).Info(testenv.Context(t, 30*time.Second))
	if err == nil || !strings.Contains(err.Error(), "interface eth9") {
		t.Errorf("missing interface: err = %v", err)
	}
}

func TestSinkAndSourceAreExact(t *testing.T) {
	c := serve(t, &Server{})
	const n = 4<<20 + 17
	sent, received, err := c.Sink(testenv.Context(t, 30*time.Second), Pattern(7, n))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Digest(Pattern(7, n))
	if sent != want || received != want {
		t.Errorf("SINK: sent %+v, received %+v, want both %+v", sent, received, want)
	}

	sent, received, err = c.Source(testenv.Context(t, 30*time.Second), n, 9)
	if err != nil {
		t.Fatal(err)
	}
	want, _ = Digest(Pattern(9, n))
	if sent != want || received != want {
		t.Errorf("SOURCE: sent %+v, received %+v, want both %+v", sent, received, want)
	}
	a, _ := Digest(Pattern(7, 1000))
	b, _ := Digest(Pattern(9, 1000))
	if a == b {
		t.Error("two seeds give the same stream")
	}
}

// traceSink is an OTLP/gRPC trace receiver keeping what it gets.
type traceSink struct {
	ptraceotlp.UnimplementedGRPCServer
	mu  sync.Mutex
	got []ptrace.Traces
}

func (s *traceSink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, req.Traces())
	return ptraceotlp.NewExportResponse(), nil
}

func TestSpanReachesOTLPReceiver(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	sink := &traceSink{}
	ptraceotlp.RegisterGRPCServer(gs, sink)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)

	ref, err := serve(t, &Server{}).Span(testenv.Context(t, 30*time.Second), ln.Addr().String(), "vnetlab.probe", "n0nce")
	if err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.got) != 1 || sink.got[0].SpanCount() != 1 {
		t.Fatalf("receiver got %d exports, want 1 with 1 span", len(sink.got))
	}
	rs := sink.got[0].ResourceSpans().At(0)
	sp := rs.ScopeSpans().At(0).Spans().At(0)
	nonce, _ := sp.Attributes().Get(NonceKey)
	svc, _ := rs.Resource().Attributes().Get("service.name")
	got := []string{sp.Name(), nonce.Str(), svc.Str(), rs.ScopeSpans().At(0).Scope().Name(), sp.TraceID().String(), sp.SpanID().String()}
	want := []string{"vnetlab.probe", "n0nce", "vnetlab-guest", ScopeName, ref.TraceID, ref.SpanID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("span (-want +got):\n%s", diff)
	}
}

func TestPowerOffRunsHookAfterReply(t *testing.T) {
	called := make(chan struct{})
	c := serve(t, &Server{PowerOff: func() error { close(called); return nil }})
	if err := c.PowerOff(testenv.Context(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("PowerOff hook not called")
	}
	if err := serve(t, &Server{}).PowerOff(testenv.Context(t, 30*time.Second)); err == nil || !strings.Contains(err.Error(), "poweroff is not enabled") {
		t.Errorf("POWEROFF without a hook: err = %v", err)
	}
}

func TestBadCommands(t *testing.T) {
	c := serve(t, &Server{})
	for _, cmd := range []string{"HELLO", "INFO x", "SOURCE -1 2", "SOURCE 1", "SOURCE 1 x", "SPAN a b"} {
		err := c.do(testenv.Context(t, 30*time.Second), cmd, func(_ net.Conn, r *bufio.Reader) error { _, err := readReply(r); return err })
		if err == nil || !strings.Contains(err.Error(), "guest: ") {
			t.Errorf("%q: err = %v, want the guest's refusal", cmd, err)
		}
	}
	if _, err := c.Span(testenv.Context(t, 30*time.Second), "a b", "n", "x"); err == nil {
		t.Error("SPAN with a space in an argument: want an error")
	}
}
