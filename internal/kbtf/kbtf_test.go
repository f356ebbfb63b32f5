package kbtf

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/vnetpath/vnetpath/internal/testenv"
)

// fixture is a tracefs copied from a 6.18 kernel, with no BTF.
var fixture = Source{
	Kernel:  func() (*btf.Spec, error) { return nil, errors.New("no BTF here") },
	TraceFS: "testdata/tracefs",
}

func TestFallbackToFormatFile(t *testing.T) {
	reasons, err := fixture.DropReasons()
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[uint64]string{2: "NOT_SPECIFIED", 5: "SOCKET_FILTER", 80: "FULL_RING"} {
		if got := reasons.Name(v); got != want {
			t.Errorf("reason %d = %q, want %q", v, got, want)
		}
	}
	if got := reasons.Name(100000); got != "UNKNOWN_100000" {
		t.Errorf("unknown reason named %q", got)
	}
	vecs, err := fixture.SoftirqVectors()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"}
	if len(vecs) != len(want) {
		t.Fatalf("got %d vectors, want %d", len(vecs), len(want))
	}
	for i, w := range want {
		if vecs[uint64(i)] != w {
			t.Errorf("vector %d = %q, want %q", i, vecs[uint64(i)], w)
		}
	}
}

func TestNoSourceAtAll(t *testing.T) {
	s := Source{Kernel: fixture.Kernel, TraceFS: t.TempDir()}
	_, err := s.DropReasons()
	if err == nil || !strings.Contains(err.Error(), "no BTF here") || !strings.Contains(err.Error(), "kfree_skb format") {
		t.Fatalf("want both causes in the error, got %v", err)
	}
}

// TestKernelBTFAgreesWithFormatFile checks the running kernel's two sources
// name every value the same way.
func TestKernelBTFAgreesWithFormatFile(t *testing.T) {
	testenv.RequireBTF(t)
	live := Source{Kernel: btf.LoadKernelSpec}
	fromBTF, err := live.DropReasons()
	if err != nil {
		t.Fatal(err)
	}
	tfs := DefaultSource().TraceFS
	raw, err := os.ReadFile(tfs + "/events/skb/kfree_skb/format")
	if err != nil {
		t.Fatalf("tracefs not mounted at %s (make deps mounts it): %v", tfs, err)
	}
	fromFormat, err := ParsePrintSymbolic(string(raw), "reason")
	if err != nil {
		t.Fatal(err)
	}
	for v, name := range fromFormat {
		if fromBTF[v] != name {
			t.Errorf("reason %d: BTF %q, format file %q", v, fromBTF[v], name)
		}
	}
	vecs, err := live.SoftirqVectors()
	if err != nil {
		t.Fatal(err)
	}
	if vecs[3] != "NET_RX" || vecs[2] != "NET_TX" {
		t.Errorf("vectors from BTF: %v", vecs)
	}
}

func TestParsePrintSymbolicErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`print fmt: "%d", REC->x`, `no __print_symbolic for field "reason"`},
		{`__print_symbolic(REC->reason, { 2 "A" })`, "missing ','"},
		{`__print_symbolic(REC->reason, { x, "A" })`, "value"},
		{`__print_symbolic(REC->reason, { 2, A })`, "not a quoted string"},
		{`__print_symbolic(REC->reason, { 2, "A" `, "unterminated"},
		{`__print_symbolic(REC->reason, )`, "empty"},
	} {
		_, err := ParsePrintSymbolic(tc.in, "reason")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParsePrintSymbolic(f *testing.F) {
	raw, err := os.ReadFile("testdata/tracefs/events/skb/kfree_skb/format")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw))
	f.Add(`__print_symbolic(REC->reason, { 0x10, "A" }, { 1, "B" })`)
	f.Fuzz(func(t *testing.T, in string) {
		names, err := ParsePrintSymbolic(in, "reason")
		if err != nil {
			return
		}
		for _, n := range names {
			if n == "" {
				t.Fatal("empty name accepted")
			}
		}
	})
}
