package vmlab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsDir is where iproute2 keeps named netns, so `ip netns` and a collector
// config can find the lab's namespaces by name.
const netnsDir = "/var/run/netns"

// NetnsPath is the bind-mount path of the named netns.
func NetnsPath(name string) string { return filepath.Join(netnsDir, name) }

// onNetnsThread runs enter then fn on a fresh locked OS thread and puts the
// thread back in its original netns; a thread whose netns could not be put
// back stays locked, so the Go runtime ends it with the goroutine.
func onNetnsThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		err = enter()
		if err == nil {
			err = fn()
		}
		if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("return to own netns: %w", rerr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// InNetns runs fn on an OS thread inside the netns at path. Sockets fn
// creates stay in that netns after fn returns.
func InNetns(path string, fn func() error) error {
	return onNetnsThread(func() error {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open netns %s: %w", path, err)
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter netns %s: %w", path, err)
		}
		return nil
	}, fn)
}

// createNetns makes a new netns bind-mounted at NetnsPath(name), with IPv6
// off for every device it will hold: no link-local address, DAD, router
// solicitation or MLD report ever leaves it.
func createNetns(name string) error {
	path := NetnsPath(name)
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("create netns %s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create netns %s: %w", name, err)
	}
	f.Close()
	err = onNetnsThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return nil
	}, func() error {
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount: %w", err)
		}
		return disableIPv6("all", "default")
	})
	if err != nil {
		return errors.Join(fmt.Errorf("create netns %s: %w", name, err), deleteNetns(name))
	}
	return nil
}

// deleteNetns unmounts and removes a named netns; the namespace itself goes
// when its last device, socket and process are gone. No name (an external
// VM's) is no netns: NetnsPath("") is the netns dir itself.
func deleteNetns(name string) error {
	if name == "" {
		return nil
	}
	path := NetnsPath(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete netns %s: unmount: %w", name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete netns %s: %w", name, err)
	}
	return nil
}

// disableIPv6 sets disable_ipv6 on the named conf entries of the calling
// thread's netns (a device name, "all" or "default"). A kernel without IPv6
// has nothing to disable.
func disableIPv6(confs ...string) error {
	if _, err := os.Stat("/proc/sys/net/ipv6"); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, c := range confs {
		p := filepath.Join("/proc/sys/net/ipv6/conf", c, "disable_ipv6")
		if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("disable ipv6 on %s: %w", c, err)
		}
	}
	return nil
}
