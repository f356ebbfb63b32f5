//go:build linux

package discovery

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procDir is an open /proc/<pid>: lookups through it fail once that process
// is gone, so a reused pid cannot mix two processes' files.
type procDir struct {
	fd   int
	path string
}

func openProcDir(root string, pid int) (procDir, error) {
	path := root + "/" + strconv.Itoa(pid)
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return procDir{}, fmt.Errorf("open %s: %w", path, err)
	}
	return procDir{fd: fd, path: path}, nil
}

func (d procDir) close() { _ = unix.Close(d.fd) }

// gone reports whether the process has exited: lookups under its directory
// fail from then on.
func (d procDir) gone() bool {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, "stat", &st, 0)
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH)
}

// readInto reads name (relative to d) into buf and returns what fits: the
// files read this way (comm, stat, fdinfo) are short or only needed in part.
func (d procDir) readInto(name string, buf []byte) ([]byte, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s/%s: %w", d.path, name, err)
	}
	defer unix.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", d.path, name, err)
		}
		if m == 0 {
			break
		}
		n += m
	}
	return buf[:n], nil
}

// readAll reads a whole file relative to d; read errors name the file.
func (d procDir) readAll(name string) ([]byte, error) {
	f, err := d.open(name, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// open opens name relative to d for reading.
func (d procDir) open(name string, flags int) (*os.File, error) {
	path := d.path + "/" + name
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// trimNewline drops the newline that ends comm.
func trimNewline(b []byte) []byte { return bytes.TrimSuffix(b, []byte("\n")) }

// splitCmdline splits /proc/<pid>/cmdline into its NUL-terminated arguments.
func splitCmdline(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}
