//go:build linux

package discovery

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

const (
	tunDevice     = "/dev/net/tun"
	macvtapPrefix = "/dev/tap"
	vhostPrefix   = "vhost-"
	pfKthread     = 0x00200000 // PF_KTHREAD in the flags field of /proc/<pid>/stat
	fdChunk       = 256        // fd names read per readdir call
)

// Scan lists every process that holds at least one /dev/net/tun or
// /dev/tap<N> fd, sorted by PID. Processes that vanish or cannot be read are
// skipped and counted in Stats; the error is non-nil only when the proc root
// cannot be listed or a worker glob is malformed.
func (s *Scanner) Scan() ([]VM, Stats, error) {
	globs := s.WorkerGlobs
	if globs == nil {
		globs = []string{vhostPrefix + "*"}
	}
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return nil, Stats{}, fmt.Errorf("worker glob %q: %w", g, err)
		}
	}
	root := cmp.Or(s.Proc, "/proc")
	pids, err := listPIDs(root)
	if err != nil {
		return nil, Stats{}, err
	}
	sc := scan{root: root, globs: globs}
	for _, pid := range pids {
		sc.process(pid)
	}
	vms, stats := sc.result()
	return vms, stats, nil
}

// VMName returns the VM name process pid's command line sets (see
// ParseName), "" if none: the name of a VMM that Scan does not list.
func (s *Scanner) VMName(pid int) (string, error) {
	d, err := openProcDir(cmp.Or(s.Proc, "/proc"), pid)
	if err != nil {
		return "", err
	}
	defer d.close()
	cmdline, err := d.readAll("cmdline")
	if err != nil {
		return "", err
	}
	return ParseName(splitCmdline(cmdline)), nil
}

// listPIDs returns the numeric entries of the proc root, unsorted.
func listPIDs(root string) ([]int, error) {
	f, err := os.Open(root)
	if err != nil {
		return nil, fmt.Errorf("open proc root: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err // names the directory
	}
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, ok := parseID(name); ok {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// scan is the state of one Scan.
type scan struct {
	root     string
	globs    []string
	vms      []VM
	kthreads []kthread
	stats    Stats
	link     [128]byte // readlink target; longer targets are neither tun nor macvtap
	buf      [1024]byte
}

// kthread is a kernel thread vhost-<owner>: a vhost worker before Linux 6.4.
type kthread struct {
	Thread
	owner int
}

// fdTable is what a process's fd directory says about it.
type fdTable struct {
	count    int      // fd entries
	tunFDs   []string // fds open on /dev/net/tun
	macvtaps []int    // ifindexes of /dev/tap<ifindex> fds
}

func (sc *scan) process(pid int) {
	sc.stats.Processes++
	d, err := openProcDir(sc.root, pid)
	if err != nil {
		sc.fail(err)
		return
	}
	defer d.close()
	err = sc.examine(d, pid)
	if errors.Is(err, fs.ErrPermission) && d.gone() {
		// proc_pid_readlink answers EACCES, not ENOENT, once the process is reaped.
		sc.stats.Vanished++
		return
	}
	sc.fail(err)
}

// examine reads the process's fds, then what else a VMM or a vhost kthread
// needs.
func (sc *scan) examine(d procDir, pid int) error {
	fds, err := sc.readFDs(d)
	switch {
	case err != nil:
		return err
	case fds.count == 0:
		// Kernel threads have no file table; only they can be old vhost workers.
		return sc.checkKthread(d, pid)
	case len(fds.tunFDs) > 0 || len(fds.macvtaps) > 0:
		vm, err := sc.readVM(d, pid, fds)
		if err != nil {
			return err
		}
		sc.vms = append(sc.vms, vm)
	}
	return nil
}

// fail counts a process skipped because of err; nil is no failure.
func (sc *scan) fail(err error) {
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ESRCH):
		sc.stats.Vanished++
	case errors.Is(err, fs.ErrPermission):
		sc.stats.PermissionDenied++
	default:
		sc.stats.Errors++
		if sc.stats.FirstError == nil {
			sc.stats.FirstError = err
		}
	}
}

// readFDs reads the fd directory with one readdir and a readlink per fd.
func (sc *scan) readFDs(d procDir) (fdTable, error) {
	dir, err := d.open("fd", unix.O_DIRECTORY)
	if err != nil {
		return fdTable{}, err
	}
	defer dir.Close()
	var t fdTable
	for {
		// In chunks: a process may hold a million fds.
		names, err := dir.Readdirnames(fdChunk)
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return fdTable{}, err // names the directory
		}
		t.count += len(names)
		if err := sc.classifyFDs(dir, names, &t); err != nil {
			return fdTable{}, err
		}
	}
}

// classifyFDs readlinks the named fds and records the tun and macvtap ones.
func (sc *scan) classifyFDs(dir *os.File, names []string, t *fdTable) error {
	dirfd := int(dir.Fd())
	for _, name := range names {
		n, err := unix.Readlinkat(dirfd, name, sc.link[:])
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EINVAL):
			continue // closed since the readdir, or not a symlink
		case err != nil:
			return fmt.Errorf("readlink %s/%s: %w", dir.Name(), name, err)
		}
		target := sc.link[:n]
		if string(target) == tunDevice {
			t.tunFDs = append(t.tunFDs, name)
		} else if ifindex, ok := macvtapIndex(target); ok {
			t.macvtaps = append(t.macvtaps, ifindex)
		}
	}
	return nil
}

// macvtapIndex returns N for a /dev/tap<N> symlink target.
func macvtapIndex(target []byte) (int, bool) {
	digits, ok := bytes.CutPrefix(target, []byte(macvtapPrefix))
	if !ok {
		return 0, false
	}
	return parseID(string(digits))
}

// parseID parses a pid, tid or ifindex: decimal digits only, above zero.
func parseID(s string) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n > 0 && n <= 1<<31-1
}

// readVM reads what a tun/macvtap holder's other files say about it.
func (sc *scan) readVM(d procDir, pid int, fds fdTable) (VM, error) {
	comm, err := d.readInto("comm", sc.buf[:])
	if err != nil {
		return VM{}, err
	}
	vm := VM{PID: pid, Comm: string(trimNewline(comm))}
	cmdline, err := d.readAll("cmdline")
	if err != nil {
		return VM{}, err
	}
	vm.Name = ParseName(splitCmdline(cmdline))
	if vm.Taps, err = sc.taps(d, fds.tunFDs); err != nil {
		return VM{}, err
	}
	vm.Macvtaps = sortUnique(fds.macvtaps)
	if vm.Workers, err = sc.workers(d); err != nil {
		return VM{}, err
	}
	return vm, nil
}

// taps reads the interface names of tun fds from their fdinfo.
func (sc *scan) taps(d procDir, tunFDs []string) ([]string, error) {
	var taps []string
	for _, fd := range tunFDs {
		info, err := d.readInto("fdinfo/"+fd, sc.buf[:])
		if errors.Is(err, fs.ErrNotExist) {
			continue // the fd was closed since the readlink
		}
		if err != nil {
			return nil, err
		}
		if name, ok := ParseIff(info); ok {
			taps = append(taps, name)
		}
	}
	return sortUnique(taps), nil
}

// workers lists the process's threads whose name matches a worker glob.
func (sc *scan) workers(d procDir) ([]Thread, error) {
	dir, err := d.open("task", unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, err // names the directory
	}
	var workers []Thread
	for _, name := range names {
		tid, ok := parseID(name)
		if !ok {
			continue
		}
		comm, err := d.readInto("task/"+name+"/comm", sc.buf[:])
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue // the thread exited since the readdir
		}
		if err != nil {
			return nil, err
		}
		if c := string(trimNewline(comm)); sc.isWorker(c) {
			workers = append(workers, Thread{TID: tid, Name: c})
		}
	}
	return workers, nil
}

func (sc *scan) isWorker(name string) bool {
	for _, g := range sc.globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// checkKthread records pid if it is a kernel thread named vhost-<N>.
func (sc *scan) checkKthread(d procDir, pid int) error {
	comm, err := d.readInto("comm", sc.buf[:])
	if err != nil {
		return err
	}
	name := trimNewline(comm)
	digits, ok := bytes.CutPrefix(name, []byte(vhostPrefix))
	if !ok {
		return nil
	}
	owner, ok := parseID(string(digits))
	if !ok {
		return nil
	}
	th := Thread{TID: pid, Name: string(name)}
	stat, err := d.readInto("stat", sc.buf[:])
	if err != nil {
		return err
	}
	if isKthread(stat) {
		sc.kthreads = append(sc.kthreads, kthread{Thread: th, owner: owner})
	}
	return nil
}

// isKthread reads PF_KTHREAD from /proc/<pid>/stat: "pid (comm) state ppid
// pgrp session tty_nr tpgid flags ..."; comm may hold spaces and parentheses.
func isKthread(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(string(fields[6]), 10, 64)
	return err == nil && flags&pfKthread != 0
}

// result attaches the vhost kthreads to their VMMs and sorts everything.
func (sc *scan) result() ([]VM, Stats) {
	slices.SortFunc(sc.vms, func(a, b VM) int { return cmp.Compare(a.PID, b.PID) })
	for _, k := range sc.kthreads {
		i, found := slices.BinarySearchFunc(sc.vms, k.owner, func(vm VM, pid int) int { return cmp.Compare(vm.PID, pid) })
		if found {
			sc.vms[i].Workers = append(sc.vms[i].Workers, k.Thread)
		}
	}
	for i := range sc.vms {
		vm := &sc.vms[i]
		slices.SortFunc(vm.Workers, func(a, b Thread) int { return cmp.Compare(a.TID, b.TID) })
		sc.stats.Taps += len(vm.Taps)
		sc.stats.Macvtaps += len(vm.Macvtaps)
		sc.stats.Workers += len(vm.Workers)
	}
	sc.stats.VMMs = len(sc.vms)
	return sc.vms, sc.stats
}

// sortUnique sorts s and drops repeats (a multiqueue device has one fd per
// queue).
func sortUnique[T cmp.Ordered](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}
