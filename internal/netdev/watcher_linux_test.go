//go:build linux

package netdev

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/vnetpath/vnetpath/internal/testenv"
)

// newNamedNetNS creates /var/run/netns/<name> without moving the test's
// threads into it.
func newNamedNetNS(t *testing.T, name string) (string, uint32) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(ns), &st); err != nil {
		t.Fatal(err)
	}
	ns.Close()
	t.Cleanup(func() { _ = netns.DeleteNamed(name) })
	return "/var/run/netns/" + name, uint32(st.Ino)
}

func waitChange(t *testing.T, w *Watcher) {
	t.Helper()
	select {
	case <-w.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled within 5s")
	}
}

func find(devs []Device, netns uint32, name string) *Device {
	for i := range devs {
		if devs[i].NetNS == netns && devs[i].Name == name {
			return &devs[i]
		}
	}
	return nil
}

func TestWatcherAcrossNamespaces(t *testing.T) {
	testenv.RequireRoot(t)
	name := fmt.Sprintf("vnltest-nd%d", os.Getpid())
	path, inode := newNamedNetNS(t, name)
	w, err := Open([]string{"", path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	own, err := OwnNetNS()
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Namespaces(); len(got) != 2 || got[0] != own || got[1] != inode {
		t.Fatalf("namespaces %v, want [%d %d]", got, own, inode)
	}

	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dummy := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "vnet-nd0"}}
	if err := h.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	waitChange(t, w)
	devs, err := w.List()
	if err != nil {
		t.Fatal(err)
	}
	d := find(devs, inode, "vnet-nd0")
	if d == nil {
		t.Fatalf("bridge not listed in %s: %+v", path, devs)
	}
	link, err := h.LinkByName("vnet-nd0")
	if err != nil {
		t.Fatal(err)
	}
	if d.Ifindex != uint32(link.Attrs().Index) || d.NSPath != path {
		t.Errorf("device %+v, want ifindex %d in %s", d, link.Attrs().Index, path)
	}
	if find(devs, own, "vnet-nd0") != nil {
		t.Error("device listed in the collector's own namespace too")
	}
	if lo := find(devs, inode, "lo"); lo == nil || lo.Ifindex != 1 {
		t.Errorf("loopback of the new namespace: %+v", lo)
	}

	if err := h.LinkDel(link); err != nil {
		t.Fatal(err)
	}
	waitChange(t, w)
	devs, err = w.List()
	if err != nil {
		t.Fatal(err)
	}
	if find(devs, inode, "vnet-nd0") != nil {
		t.Error("deleted device still listed")
	}
}

func TestOpenBadPath(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := Open([]string{"", "/nonexistent/netns"}); err == nil {
		t.Fatal("opened a namespace that does not exist")
	}
}
