//go:build linux

package discovery

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeProcess is one process of a synthetic /proc.
type fakeProcess struct {
	pid     int
	comm    string
	cmdline []string
	fds     map[int]string // fd -> symlink target
	fdinfo  map[int]string // fd -> fdinfo content
	files   []int          // fds that are regular files, not symlinks
	threads map[int]string // tid -> comm, besides the main thread
	kthread bool           // a kernel thread: child of kthreadd, PF_KTHREAD, no fds
}

// tunInfo is the fdinfo of a tun fd attached to ifname, as Linux 6.18 writes it.
func tunInfo(ifname string) string {
	return "pos:\t0\nflags:\t0104002\nmnt_id:\t24\nino:\t105\niff:\t" + ifname + "\n"
}

// writeProc lays p out under root the way Linux does.
func writeProc(tb testing.TB, root string, p fakeProcess) {
	tb.Helper()
	dir := filepath.Join(root, strconv.Itoa(p.pid))
	for _, sub := range []string{"fd", "fdinfo", "task"} {
		mkdir(tb, filepath.Join(dir, sub))
	}
	writeFile(tb, filepath.Join(dir, "comm"), p.comm+"\n")
	writeFile(tb, filepath.Join(dir, "stat"), statLine(p))
	var cmdline string
	for _, arg := range p.cmdline {
		cmdline += arg + "\x00"
	}
	writeFile(tb, filepath.Join(dir, "cmdline"), cmdline)
	for fd, target := range p.fds {
		if err := os.Symlink(target, filepath.Join(dir, "fd", strconv.Itoa(fd))); err != nil {
			tb.Fatal(err)
		}
	}
	for fd, info := range p.fdinfo {
		writeFile(tb, filepath.Join(dir, "fdinfo", strconv.Itoa(fd)), info)
	}
	for _, fd := range p.files {
		writeFile(tb, filepath.Join(dir, "fd", strconv.Itoa(fd)), "")
	}
	threads := map[int]string{p.pid: p.comm}
	for tid, comm := range p.threads {
		threads[tid] = comm
	}
	for tid, comm := range threads {
		mkdir(tb, filepath.Join(dir, "task", strconv.Itoa(tid)))
		writeFile(tb, filepath.Join(dir, "task", strconv.Itoa(tid), "comm"), comm+"\n")
	}
}

// statLine is a /proc/<pid>/stat line up to the flags field and beyond.
func statLine(p fakeProcess) string {
	ppid, flags := 1, 0x400100 // PF_RANDOMIZE|PF_SUPERPRIV, as systemd shows
	if p.kthread {
		ppid, flags = 2, 0x208040 // PF_KTHREAD|PF_NOFREEZE|PF_FORKNOEXEC, as kthreadd's children show
	}
	return fmt.Sprintf("%d (%s) S %d 0 0 0 -1 %d 0 0 0 0 0 0 0 0 20 0 1 0 24 0 0 %s\n",
		p.pid, p.comm, ppid, flags, strings.Repeat("0 ", 28))
}

func mkdir(tb testing.TB, path string) {
	tb.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		tb.Fatal(err)
	}
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
