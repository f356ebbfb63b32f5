//go:build linux

package action

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// links is a netlink handle in one network namespace.
type links struct {
	h *netlink.Handle
}

// openLinks opens netlink in the namespace at nsPath, or in the
// collector's own without a setns when nsPath is empty.
func openLinks(nsPath string) (*links, error) {
	if nsPath == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
		return &links{h: h}, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", nsPath, err)
	}
	return &links{h: h}, nil
}

func (l *links) close() { l.h.Close() }

func (l *links) txQueueLen(name string) (int, error) {
	link, err := l.h.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return 0, Refuse("interface %s is gone", name)
	}
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return link.Attrs().TxQLen, nil
}

func (l *links) setTxQueueLen(name string, n int) error {
	link, err := l.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("interface %s: %w", name, err)
	}
	if err := l.h.LinkSetTxQLen(link, n); err != nil {
		return fmt.Errorf("set txqueuelen of %s to %d: %w", name, n, err)
	}
	return nil
}
