//go:build linux

package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// hostFixture is a /proc with VMMs of every shape, bystanders, and the
// races and oddities Scan must survive. It returns the proc root.
func hostFixture(t *testing.T) string {
	root := t.TempDir()
	procs := []fakeProcess{
		{pid: 1, comm: "systemd", cmdline: []string{"/sbin/init"},
			fds: map[int]string{0: "/dev/null", 3: "socket:[1234]", 4: "anon_inode:[eventfd]"}},
		{pid: 2, comm: "kthreadd", kthread: true},
		// libvirt's QEMU: a multiqueue tap (two fds), a second tap, a
		// macvtap twice and another, vhost fds, an in-process vhost worker.
		{pid: 100, comm: "qemu-system-x86",
			cmdline: []string{"/usr/bin/qemu-system-x86_64", "-name", "guest=vm1,debug-threads=on", "-S",
				"-netdev", "tap,fds=30:31,id=hostnet0,vhost=on,vhostfds=32:33"},
			fds: map[int]string{0: "/dev/null", 30: "/dev/net/tun", 31: "/dev/net/tun", 32: "/dev/vhost-net",
				33: "/dev/vhost-net", 34: "/dev/net/tun", 40: "/dev/tap7", 41: "/dev/tap7", 42: "/dev/tap12"},
			fdinfo: map[int]string{30: tunInfo("vnet3"), 31: tunInfo("vnet3"), 34: tunInfo("vnet1"),
				32: "pos:\t0\nflags:\t02\n", 40: "pos:\t0\n"},
			threads: map[int]string{101: "CPU 0/KVM", 102: "vhost-100", 103: "IO mon_iothread"}},
		// Pre-6.4 vhost workers of 100: kernel threads with their own pid.
		{pid: 150, comm: "vhost-100", kthread: true},
		{pid: 149, comm: "vhost-100", kthread: true},
		// A user process posing as a vhost worker, with no fds: not a kthread.
		{pid: 151, comm: "vhost-100"},
		// A vhost kthread of no VMM found.
		{pid: 152, comm: "vhost-999", kthread: true},
		{pid: 153, comm: "kworker/0:1", kthread: true},
		// The lab's fake VMM: an fd that is no symlink, an unattached tun fd.
		{pid: 200, comm: "vnetlab-vmm",
			cmdline: []string{"/usr/local/bin/vnetlab-vmm", "-name", "guest=lab-a,debug-threads=on",
				"-netdev", "tap,id=hostnet0,ifname=vnet0"},
			fds: map[int]string{3: "/dev/net/tun", 5: "/dev/net/tun"}, files: []int{4},
			fdinfo:  map[int]string{3: tunInfo("vnet0"), 5: "pos:\t0\nflags:\t02\nmnt_id:\t24\nino:\t105\n"},
			threads: map[int]string{201: "vhost-200", 202: "worker"}},
		// A VPN daemon holds a tun too: listed, nameless, no workers.
		{pid: 300, comm: "openvpn", cmdline: []string{"openvpn", "--config", "x.conf"},
			fds: map[int]string{3: "/dev/net/tun"}, fdinfo: map[int]string{3: tunInfo("tun0")}},
		// A macvtap-only VMM named with escaped commas.
		{pid: 400, comm: "qemu-kvm", cmdline: []string{"qemu-kvm", "-name", "vm,,with,,commas"},
			fds: map[int]string{20: "/dev/tap5"}},
		// Look-alikes that are not tun or macvtap.
		{pid: 800, comm: "lookalike", cmdline: []string{"lookalike"},
			fds: map[int]string{3: "/dev/tapx", 4: "/dev/tap", 5: "/dev/net/tun0", 6: "/dev/tap-1", 7: "/dev/tap0"}},
	}
	for _, p := range procs {
		writeProc(t, root, p)
	}
	// 500 exited between the listing of the root and the read of its fds.
	mkdir(t, filepath.Join(root, "500"))
	// 600 held a tun but exited before its cmdline was read.
	writeProc(t, root, fakeProcess{pid: 600, comm: "qemu-system-x86",
		fds: map[int]string{3: "/dev/net/tun"}, fdinfo: map[int]string{3: tunInfo("vnet9")}})
	if err := os.Remove(filepath.Join(root, "600", "cmdline")); err != nil {
		t.Fatal(err)
	}
	// 700's fd directory is a file: an error that is neither race nor permission.
	mkdir(t, filepath.Join(root, "700"))
	writeFile(t, filepath.Join(root, "700", "fd"), "")
	// Non-process entries of /proc.
	mkdir(t, filepath.Join(root, "net"))
	writeFile(t, filepath.Join(root, "cpuinfo"), "processor\t: 0\n")
	if err := os.Symlink("1", filepath.Join(root, "self")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestScanFixture(t *testing.T) {
	root := hostFixture(t)
	vms, stats, err := (&Scanner{Proc: root}).Scan()
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	want := []VM{
		{Name: "vm1", PID: 100, Comm: "qemu-system-x86", Taps: []string{"vnet1", "vnet3"}, Macvtaps: []int{7, 12},
			Workers: []Thread{{TID: 102, Name: "vhost-100"}, {TID: 149, Name: "vhost-100"}, {TID: 150, Name: "vhost-100"}}},
		{Name: "lab-a", PID: 200, Comm: "vnetlab-vmm", Taps: []string{"vnet0"},
			Workers: []Thread{{TID: 201, Name: "vhost-200"}}},
		{PID: 300, Comm: "openvpn", Taps: []string{"tun0"}},
		{Name: "vm,with,commas", PID: 400, Comm: "qemu-kvm", Macvtaps: []int{5}},
	}
	if diff := cmp.Diff(want, vms); diff != "" {
		t.Errorf("VMs (-want +got):\n%s", diff)
	}
	wantStats := Stats{Processes: 15, VMMs: 4, Taps: 4, Macvtaps: 3, Workers: 4, Vanished: 2, Errors: 1}
	if diff := cmp.Diff(wantStats, stats, cmpopts.IgnoreFields(Stats{}, "FirstError")); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if stats.FirstError == nil || !strings.Contains(stats.FirstError.Error(), filepath.Join(root, "700", "fd")) {
		t.Errorf("first error %v, want one naming %s/700/fd", stats.FirstError, root)
	}
}

func TestVMName(t *testing.T) {
	s := &Scanner{Proc: hostFixture(t)}
	for pid, want := range map[int]string{100: "vm1", 400: "vm,with,commas", 300: "", 2: ""} {
		if got, err := s.VMName(pid); got != want || err != nil {
			t.Errorf("VMName(%d) = %q, %v; want %q", pid, got, err, want)
		}
	}
	for _, pid := range []int{600, 999} { // exited before its cmdline was read; no such process
		if got, err := s.VMName(pid); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("VMName(%d) = %q, %v; want a not-exist error", pid, got, err)
		}
	}
}

// TestScanHugeFDTable checks a table of several readdir chunks, and that
// only tun fds have their fdinfo read: the others' fdinfo are directories,
// which would count as errors if read.
func TestScanHugeFDTable(t *testing.T) {
	root := t.TempDir()
	p := fakeProcess{pid: 100, comm: "qemu-system-x86", cmdline: []string{"qemu", "-name", "big"},
		fds: map[int]string{}, fdinfo: map[int]string{fdChunk*2 + 10: tunInfo("vnet7")}}
	for fd := range fdChunk*2 + 20 {
		p.fds[fd] = fmt.Sprintf("socket:[%d]", fd)
	}
	p.fds[fdChunk*2+10] = "/dev/net/tun"
	writeProc(t, root, p)
	for fd := range p.fds {
		if _, tun := p.fdinfo[fd]; !tun {
			mkdir(t, filepath.Join(root, "100", "fdinfo", strconv.Itoa(fd)))
		}
	}

	vms, stats, err := (&Scanner{Proc: root}).Scan()
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	want := []VM{{Name: "big", PID: 100, Comm: "qemu-system-x86", Taps: []string{"vnet7"}}}
	if diff := cmp.Diff(want, vms); diff != "" {
		t.Errorf("VMs (-want +got):\n%s", diff)
	}
	if want := (Stats{Processes: 1, VMMs: 1, Taps: 1}); stats != want {
		t.Errorf("stats %+v, want %+v", stats, want)
	}
}

func TestScanWorkerGlobs(t *testing.T) {
	root := hostFixture(t)
	vms, _, err := (&Scanner{Proc: root, WorkerGlobs: []string{"IO *", "worker"}}).Scan()
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	got := map[int][]Thread{}
	for _, vm := range vms {
		got[vm.PID] = vm.Workers
	}
	// Kernel vhost threads are attached whatever the globs.
	want := map[int][]Thread{
		100: {{TID: 103, Name: "IO mon_iothread"}, {TID: 149, Name: "vhost-100"}, {TID: 150, Name: "vhost-100"}},
		200: {{TID: 202, Name: "worker"}},
		300: nil,
		400: nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workers by VMM (-want +got):\n%s", diff)
	}
}

func TestScanBadGlob(t *testing.T) {
	_, _, err := (&Scanner{Proc: t.TempDir(), WorkerGlobs: []string{"vhost-["}}).Scan()
	if err == nil || !strings.Contains(err.Error(), `"vhost-["`) {
		t.Fatalf("scan with a malformed glob: %v, want an error naming it", err)
	}
}

func TestScanMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "nope")
	_, _, err := (&Scanner{Proc: root}).Scan()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), root) {
		t.Fatalf("scan of a missing root: %v, want a not-exist error naming %s", err, root)
	}
}

func TestScanEmptyRoot(t *testing.T) {
	vms, stats, err := (&Scanner{Proc: t.TempDir()}).Scan()
	if err != nil || vms != nil || stats != (Stats{}) {
		t.Fatalf("scan of an empty root: %v, %+v, %v; want nothing", vms, stats, err)
	}
}
