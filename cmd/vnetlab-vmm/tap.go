package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/vmlab"
)

// openTap creates a non-persistent tap in the calling thread's netns and
// returns its queue fd: the device lives exactly as long as the VMM holds it.
func openTap(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("create tap %s: open /dev/net/tun: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("create tap %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("create tap %s: TUNSETIFF: %w", name, err)
	}
	return fd, nil
}

// openTapIn creates the tap inside the netns bind-mounted at nsPath: tun
// creates the device in the netns of the thread that opened /dev/net/tun.
func openTapIn(nsPath, name string) (int, error) {
	fd := -1
	err := vmlab.InNetns(nsPath, func() error {
		var err error
		fd, err = openTap(name)
		return err
	})
	return fd, err
}
