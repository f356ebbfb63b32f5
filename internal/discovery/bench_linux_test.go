//go:build linux

package discovery

import (
	"fmt"
	"os"
	"testing"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

// Shape of the synthetic host: 2000 processes, of which 20 VMMs with a
// two-queue tap each, 280 kernel threads (8 of them old-style vhost
// workers), and ordinary processes with 4 to 40 fds.
const (
	benchProcesses = 2000
	benchVMMs      = 20
	benchKthreads  = 280
)

// benchFixture writes the synthetic host and returns its proc root.
func benchFixture(b *testing.B) string {
	root := benchDir(b)
	targets := []string{"/dev/null", "socket:[%d]", "pipe:[%d]", "anon_inode:[eventfd]", "/var/log/app-%d.log"}
	for i := range benchProcesses {
		pid := 1000 + i
		p := fakeProcess{pid: pid, comm: "app", cmdline: []string{"/usr/bin/app", "--serve"}, fds: map[int]string{}}
		switch {
		case i < benchVMMs:
			p = benchVMM(pid)
		case i < benchVMMs+benchKthreads:
			p = fakeProcess{pid: pid, comm: fmt.Sprintf("kworker/%d:%d", i%64, i%3), kthread: true}
			if i < benchVMMs+8 {
				p.comm = fmt.Sprintf("vhost-%d", 1000+i-benchVMMs)
			}
		default:
			for fd := range 4 + i%37 {
				p.fds[fd] = fmt.Sprintf(targets[fd%len(targets)], 10000+fd)
			}
		}
		writeProc(b, root, p)
	}
	return root
}

// benchDir is a temporary directory on tmpfs where there is one: the
// fixture's 50k inodes take 20 s to create on the CI VM's ext4, 2 s on
// tmpfs; Scan runs as fast on either.
func benchDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "vnetpath-discovery-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// benchVMM is a libvirt QEMU with 40 fds, two of them one tap's queues, and
// 12 threads.
func benchVMM(pid int) fakeProcess {
	tap := fmt.Sprintf("vnet%d", pid)
	p := fakeProcess{pid: pid, comm: "qemu-system-x86",
		cmdline: []string{"/usr/bin/qemu-system-x86_64", "-name", fmt.Sprintf("guest=vm%d,debug-threads=on", pid),
			"-S", "-machine", "pc-q35-7.2,usb=off,dump-guest-core=off", "-m", "4096", "-smp", "8",
			"-netdev", `{"type":"tap","fds":"30:31","id":"hostnet0","vhost":true,"vhostfds":"32:33"}`},
		fds:     map[int]string{},
		fdinfo:  map[int]string{30: tunInfo(tap), 31: tunInfo(tap)},
		threads: map[int]string{pid + 1: "vhost-" + fmt.Sprint(pid), pid + 2: "IO mon_iothread"},
	}
	for fd := range 40 {
		p.fds[fd] = "anon_inode:[eventfd]"
	}
	p.fds[30], p.fds[31] = "/dev/net/tun", "/dev/net/tun"
	for cpu := range 10 {
		p.threads[pid+3+cpu] = fmt.Sprintf("CPU %d/KVM", cpu)
	}
	return p
}

func BenchmarkScan(b *testing.B) {
	root := benchFixture(b)
	s := &Scanner{Proc: root}
	_, stats, err := s.Scan()
	want := Stats{Processes: benchProcesses, VMMs: benchVMMs, Taps: benchVMMs, Workers: benchVMMs + 8}
	if err != nil || stats != want {
		b.Fatalf("scan: %+v, %v; want %+v", stats, err, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Scan(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchProcesses), "ns/process")
}

// BenchmarkScanHostProc scans this machine's /proc, whatever runs on it.
func BenchmarkScanHostProc(b *testing.B) {
	testenv.RequireRoot(b) // reads every process's fds
	s := &Scanner{}
	var stats Stats
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if _, stats, err = s.Scan(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*stats.Processes), "ns/process")
}
