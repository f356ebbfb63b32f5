package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vnetpath/vnetpath/internal/discovery"
	"github.com/vnetpath/vnetpath/internal/testenv"
)

// threads lists pid's threads by name, TIDs sorted.
func threads(t *testing.T, pid int) map[string][]int {
	t.Helper()
	comms, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "comm"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for _, c := range comms {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		tid, err := strconv.Atoi(filepath.Base(filepath.Dir(c)))
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSpace(string(b))
		out[name] = append(out[name], tid)
		slices.Sort(out[name])
	}
	return out
}

// Discovery sees the real QEMU the way it sees a libvirt VM: the VM name
// from -name guest=, the tap from the tun fd's fdinfo, and, with a glob for
// QEMU's thread names (debug-threads=on), its vCPU thread. Without vhost-net
// there is no vhost-<pid> worker: QEMU's main loop (the thread named like the
// process, TID = PID) reads the tap, the vCPU thread takes the guest's kicks.
func TestDiscoveryFindsQEMU(t *testing.T) {
	testenv.RequireRoot(t)
	g, _ := bootT(t, nil, Spec{})
	th := threads(t, g.PID)
	t.Logf("QEMU threads: %v", th)
	if len(th["CPU 0/TCG"]) != 1 || !slices.Contains(th["qemu-system-x86"], g.PID) {
		t.Fatalf("QEMU threads %v: want one \"CPU 0/TCG\" and the main thread %d named qemu-system-x86", th, g.PID)
	}

	sc := &discovery.Scanner{WorkerGlobs: []string{"CPU */TCG", "vhost-*"}}
	var got *discovery.VM
	deadline := time.Now().Add(10 * time.Second)
	for ; got == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		vms, _, err := sc.Scan()
		if err != nil {
			t.Fatal(err)
		}
		for i := range vms {
			if vms[i].PID == g.PID {
				got = &vms[i]
			}
		}
	}
	if got == nil {
		t.Fatalf("QEMU pid %d not discovered", g.PID)
	}
	want := discovery.VM{
		Name: g.VM.Name, PID: g.PID, Comm: "qemu-system-x86", Taps: []string{g.VM.HostTap},
		Workers: []discovery.Thread{{TID: th["CPU 0/TCG"][0], Name: "CPU 0/TCG"}},
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("QEMU (-want +got):\n%s", diff)
	}
}
