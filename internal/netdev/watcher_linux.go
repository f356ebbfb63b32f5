//go:build linux

package netdev

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Watcher lists links in a set of network namespaces and signals changes.
type Watcher struct {
	namespaces []*namespace
	changes    chan struct{}
	done       chan struct{}
	wg         sync.WaitGroup
	closeOnce  sync.Once

	mu      sync.Mutex
	subErrs []error // asynchronous subscription errors, reported by Err
}

type namespace struct {
	path   string
	inode  uint32
	ns     netns.NsHandle
	handle *netlink.Handle
}

// Open watches the namespaces at paths (such as /var/run/netns/NAME); ""
// is the collector's own namespace.
func Open(paths []string) (*Watcher, error) {
	w := &Watcher{changes: make(chan struct{}, 1), done: make(chan struct{})}
	for _, p := range paths {
		ns, err := openNamespace(p)
		if err != nil {
			_ = w.Close()
			return nil, err
		}
		w.namespaces = append(w.namespaces, ns)
		if err := w.subscribe(ns); err != nil {
			_ = w.Close()
			return nil, err
		}
	}
	return w, nil
}

func openNamespace(path string) (*namespace, error) {
	open, name := netns.Get, "own network namespace"
	if path != "" {
		open, name = func() (netns.NsHandle, error) { return netns.GetFromPath(path) }, path
	}
	h, err := open()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(h), &st); err != nil {
		h.Close()
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	// The own namespace needs no setns (and so no CAP_SYS_ADMIN). Only the
	// route family: a guest kernel may lack xfrm or netfilter netlink.
	var handle *netlink.Handle
	if path == "" {
		handle, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		handle, err = netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	}
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	return &namespace{path: path, inode: uint32(st.Ino), ns: h, handle: handle}, nil
}

func (w *Watcher) subscribe(ns *namespace) error {
	updates := make(chan netlink.LinkUpdate, 64)
	opts := netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			w.mu.Lock()
			w.subErrs = append(w.subErrs, fmt.Errorf("link updates in %q: %w", ns.path, err))
			w.mu.Unlock()
		},
	}
	if ns.path != "" {
		opts.Namespace = &ns.ns
	}
	err := netlink.LinkSubscribeWithOptions(updates, w.done, opts)
	if err != nil {
		return fmt.Errorf("subscribe to links in %q: %w", ns.path, err)
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for range updates {
			// Coalesce: one pending signal stands for any number of updates.
			select {
			case w.changes <- struct{}{}:
			default:
			}
		}
	}()
	return nil
}

// Changes signals after links were added, removed or changed.
func (w *Watcher) Changes() <-chan struct{} { return w.changes }

// Err returns and clears the subscription errors seen since the last call.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := errors.Join(w.subErrs...)
	w.subErrs = nil
	return err
}

// Namespaces returns the inodes of the watched namespaces, in Open's order.
func (w *Watcher) Namespaces() []uint32 {
	inodes := make([]uint32, len(w.namespaces))
	for i, ns := range w.namespaces {
		inodes[i] = ns.inode
	}
	return inodes
}

// List returns every link in every watched namespace.
func (w *Watcher) List() ([]Device, error) {
	var devs []Device
	for _, ns := range w.namespaces {
		links, err := RetryDump(ns.handle.LinkList)
		if err != nil {
			return nil, fmt.Errorf("list links in %q: %w", ns.path, err)
		}
		for _, l := range links {
			a := l.Attrs()
			devs = append(devs, Device{NetNS: ns.inode, Ifindex: uint32(a.Index), Name: a.Name, NSPath: ns.path, ParentBus: a.ParentDevBus})
		}
	}
	return devs, nil
}

// Close stops the subscriptions and releases the namespaces.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		close(w.done)
		w.wg.Wait()
		for _, ns := range w.namespaces {
			ns.handle.Close()
			ns.ns.Close()
		}
	})
	return nil
}

// OwnNetNS returns the inode of the calling process's network namespace.
func OwnNetNS() (uint32, error) {
	st, err := os.Stat("/proc/self/ns/net")
	if err != nil {
		return 0, err
	}
	return uint32(st.Sys().(*syscall.Stat_t).Ino), nil
}

// RetryDump reruns a netlink dump the kernel marked interrupted because the
// table changed meanwhile (links come and go while other labs or VMs start).
func RetryDump[T any](dump func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || attempt == 10 {
			return v, err
		}
	}
}
