//go:build linux

package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

type guestReceiver struct {
	cfg    *Config
	logger *zap.Logger
	netns  *os.File
}

func newGuestReceiver(cfg *Config, set receiver.Settings) *guestReceiver {
	return &guestReceiver{cfg: cfg, logger: set.Logger}
}

func (r *guestReceiver) Start(context.Context, component.Host) error {
	if r.cfg.NetNS == "" {
		r.logger.Info("vnet_guest watching the collector's own network namespace")
		return nil
	}
	f, err := openNetNS(r.cfg.NetNS)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	r.netns = f
	r.logger.Info("vnet_guest watching a network namespace", zap.String("netns", r.cfg.NetNS))
	return nil
}

func (r *guestReceiver) Shutdown(context.Context) error {
	if r.netns == nil {
		return nil
	}
	err := r.netns.Close()
	r.netns = nil
	return err
}

// openNetNS opens a namespace file and checks it is a network namespace.
func openNetNS(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	typ, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || typ != unix.CLONE_NEWNET {
		f.Close()
		return nil, fmt.Errorf("%s is not a network namespace", path)
	}
	return f, nil
}
