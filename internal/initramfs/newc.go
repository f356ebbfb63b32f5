// Package initramfs writes Linux initramfs archives: the "newc" cpio format
// (header magic 070701) that the kernel unpacks into its rootfs at boot, as
// described in the kernel's Documentation/driver-api/early-userspace/
// buffer-format.rst.
//
// Archives are reproducible: every entry has mtime 0, uid and gid 0, and
// inode numbers in write order, so the same inputs give the same bytes (and
// a cache keyed by the inputs stays valid).
package initramfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// Mode type bits of a cpio entry (as in stat(2)).
const (
	typeDir     = 0o040000
	typeRegular = 0o100000
	typeSymlink = 0o120000
	typeCharDev = 0o020000
)

const trailer = "TRAILER!!!"

// Writer writes a newc cpio archive. Parent directories must be written
// before their entries: the kernel creates entries in archive order.
type Writer struct {
	out  *counter
	ino  uint32
	seen map[string]bool // entry names written; true for directories
}

// NewWriter starts an archive on w; Close writes its trailer.
func NewWriter(w io.Writer) *Writer {
	return &Writer{out: &counter{w: w}, seen: map[string]bool{}}
}

// Dir adds a directory.
func (w *Writer) Dir(name string, perm fs.FileMode) error {
	return w.entry(name, typeDir|uint32(perm.Perm()), 2, 0, 0, nil, 0)
}

// File adds a regular file of size bytes read from r.
func (w *Writer) File(name string, perm fs.FileMode, size int64, r io.Reader) error {
	return w.entry(name, typeRegular|uint32(perm.Perm()), 1, 0, 0, r, size)
}

// Bytes adds a regular file holding b.
func (w *Writer) Bytes(name string, perm fs.FileMode, b []byte) error {
	return w.File(name, perm, int64(len(b)), bytes.NewReader(b))
}

// Symlink adds a symbolic link name -> target.
func (w *Writer) Symlink(name, target string) error {
	return w.entry(name, typeSymlink|0o777, 1, 0, 0, strings.NewReader(target), int64(len(target)))
}

// CharDev adds a character device node, e.g. /dev/console (5, 1), which the
// kernel opens for init's stdio before /init runs.
func (w *Writer) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	return w.entry(name, typeCharDev|uint32(perm.Perm()), 1, major, minor, nil, 0)
}

// Close writes the trailer entry; it does not close the underlying writer.
func (w *Writer) Close() error {
	if err := w.header(trailer, 0, 1, 0, 0, 0, 0); err != nil {
		return err
	}
	// Pad the archive to 512 bytes like cpio(1) does; the kernel skips zeros.
	return w.pad(512)
}

func (w *Writer) entry(name string, mode, nlink, rmajor, rminor uint32, r io.Reader, size int64) error {
	if w.out.err != nil {
		return w.out.err
	}
	clean, err := w.checkName(name)
	if err != nil {
		return err
	}
	if size < 0 || size > 0xffffffff {
		return fmt.Errorf("initramfs: %s: size %d does not fit newc's 32 bits", clean, size)
	}
	w.ino++
	if err := w.header(clean, w.ino, nlink, mode, uint32(size), rmajor, rminor); err != nil {
		return err
	}
	if size > 0 {
		n, err := io.Copy(w.out, io.LimitReader(r, size))
		if err == nil && n != size {
			err = fmt.Errorf("short read: %d of %d bytes", n, size)
		}
		if err != nil {
			return w.out.fail(fmt.Errorf("initramfs: %s: %w", clean, err))
		}
	}
	if err := w.pad(4); err != nil {
		return err
	}
	w.seen[clean] = mode&typeDir == typeDir
	return nil
}

// checkName makes name relative ("bin/sh"), refuses duplicates and entries
// whose parent directory was not written first.
func (w *Writer) checkName(name string) (string, error) {
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" || clean == trailer {
		return "", fmt.Errorf("initramfs: bad entry name %q", name)
	}
	if _, dup := w.seen[clean]; dup {
		return "", fmt.Errorf("initramfs: %s written twice", clean)
	}
	if dir := path.Dir(clean); dir != "." {
		if isDir, ok := w.seen[dir]; !ok || !isDir {
			return "", fmt.Errorf("initramfs: %s: parent directory %s not written first", clean, dir)
		}
	}
	return clean, nil
}

func (w *Writer) header(name string, ino, nlink, mode, size, rmajor, rminor uint32) error {
	// 13 eight-digit hex fields after the magic; namesize counts the NUL.
	h := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	if _, err := io.WriteString(w.out, h+name+"\x00"); err != nil {
		return err
	}
	return w.pad(4)
}

func (w *Writer) pad(to int64) error {
	if n := (to - w.out.off%to) % to; n > 0 {
		_, err := w.out.Write(make([]byte, n))
		return err
	}
	return nil
}

// counter tracks the offset (for padding) and keeps the first write error,
// which every later call returns.
type counter struct {
	w   io.Writer
	off int64
	err error
}

func (c *counter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.off += int64(n)
	if err != nil {
		return n, c.fail(fmt.Errorf("initramfs: write: %w", err))
	}
	return n, nil
}

func (c *counter) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return c.err
}
