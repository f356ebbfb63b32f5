package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/vmlab"
)

// vnetHdrLen is the size of struct virtio_net_hdr, tun's default header.
const vnetHdrLen = 10

// Offloads a virtio-net guest negotiates and QEMU hands to tun: checksum
// and TCP segmentation, so TCP crosses the tap as GSO frames up to 64 KiB.
const (
	tunFCsum = 0x01 // TUN_F_CSUM
	tunFTSO4 = 0x02 // TUN_F_TSO4
	tunFTSO6 = 0x04 // TUN_F_TSO6
)

// openTap creates a non-persistent tap in the calling thread's netns and
// returns its queue fd: the device lives exactly as long as the VMM holds it.
// With vnetHdr each frame read or written starts with a virtio_net_hdr.
func openTap(name string, vnetHdr bool) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("create tap %s: open /dev/net/tun: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("create tap %s: %w", name, err)
	}
	flags := uint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if vnetHdr {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("create tap %s: TUNSETIFF: %w", name, err)
	}
	if vnetHdr {
		if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4|tunFTSO6); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("create tap %s: TUNSETOFFLOAD: %w", name, err)
		}
	}
	return fd, nil
}

// openTapIn creates the tap inside the netns bind-mounted at nsPath: tun
// creates the device in the netns of the thread that opened /dev/net/tun.
func openTapIn(nsPath, name string, vnetHdr bool) (int, error) {
	fd := -1
	err := vmlab.InNetns(nsPath, func() error {
		var err error
		fd, err = openTap(name, vnetHdr)
		return err
	})
	return fd, err
}
