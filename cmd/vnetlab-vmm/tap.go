package main

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
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
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		// A thread whose netns could not be restored must die with this
		// goroutine, so it is unlocked only after a clean restore.
		runtime.LockOSThread()
		fd, restored, err := tapInNetns(nsPath, name)
		if restored {
			runtime.UnlockOSThread()
		}
		done <- result{fd, err}
	}()
	r := <-done
	return r.fd, r.err
}

func tapInNetns(nsPath, name string) (fd int, restored bool, err error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, true, fmt.Errorf("open own netns: %w", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, true, fmt.Errorf("open guest netns %s: %w", nsPath, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return -1, true, fmt.Errorf("enter guest netns %s: %w", nsPath, err)
	}
	fd, err = openTap(name)
	if rerr := unix.Setns(orig, unix.CLONE_NEWNET); rerr != nil {
		return fd, false, errors.Join(err, fmt.Errorf("return from guest netns: %w", rerr))
	}
	return fd, true, err
}
