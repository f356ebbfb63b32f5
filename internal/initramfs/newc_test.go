package initramfs

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entry is one parsed newc record.
type entry struct {
	Name         string
	Ino, Mode    uint32
	Nlink        uint32
	RMajor, RMin uint32
	Data         string
}

// parse reads a newc archive by the kernel's rules (buffer-format.rst).
func parse(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	off := 0
	align := func() { off = (off + 3) &^ 3 }
	for {
		if off+110 > len(b) {
			t.Fatalf("truncated header at %d", off)
		}
		h := string(b[off : off+110])
		if h[:6] != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(h[6+8*i:14+8*i], 16, 32)
			if err != nil {
				t.Fatalf("field %d at %d: %v", i, off, err)
			}
			return uint32(v)
		}
		e := entry{Ino: field(0), Mode: field(1), Nlink: field(4), RMajor: field(9), RMin: field(10)}
		for _, i := range []int{2, 3, 5, 7, 8, 12} { // uid gid mtime devmajor devminor check
			if field(i) != 0 {
				t.Errorf("entry at %d: field %d = %d, want 0 (reproducible)", off, i, field(i))
			}
		}
		size, nameSize := int(field(6)), int(field(11))
		off += 110
		name := string(b[off : off+nameSize])
		if !strings.HasSuffix(name, "\x00") {
			t.Fatalf("name %q at %d lacks its NUL", name, off)
		}
		e.Name = strings.TrimSuffix(name, "\x00")
		off += nameSize
		align()
		e.Data = string(b[off : off+size])
		off += size
		align()
		if e.Name == trailer {
			if len(b)%512 != 0 {
				t.Errorf("archive length %d is not a multiple of 512", len(b))
			}
			if rest := bytes.Trim(b[off:], "\x00"); len(rest) != 0 {
				t.Errorf("%d non-zero bytes after the trailer", len(rest))
			}
			return out
		}
		out = append(out, e)
	}
}

func TestWriterArchive(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	steps := []error{
		w.Dir("bin", 0o755),
		w.Dir("/dev", 0o755),
		w.CharDev("dev/console", 0o600, 5, 1),
		w.Bytes("bin/busybox", 0o755, []byte("12345")), // odd size: data padding
		w.Symlink("bin/sh", "busybox"),
		w.Bytes("init", 0o755, []byte("#!/bin/sh\n")),
		w.Bytes("empty", 0o644, nil),
		w.Close(),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	got := parse(t, buf.Bytes())
	want := []entry{
		{Name: "bin", Ino: 1, Mode: 0o040755, Nlink: 2},
		{Name: "dev", Ino: 2, Mode: 0o040755, Nlink: 2},
		{Name: "dev/console", Ino: 3, Mode: 0o020600, Nlink: 1, RMajor: 5, RMin: 1},
		{Name: "bin/busybox", Ino: 4, Mode: 0o100755, Nlink: 1, Data: "12345"},
		{Name: "bin/sh", Ino: 5, Mode: 0o120777, Nlink: 1, Data: "busybox"},
		{Name: "init", Ino: 6, Mode: 0o100755, Nlink: 1, Data: "#!/bin/sh\n"},
		{Name: "empty", Ino: 7, Mode: 0o100644, Nlink: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
}

func TestWriterReproducible(t *testing.T) {
	build := func() []byte {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := errors.Join(w.Dir("etc", 0o755), w.Bytes("etc/x", 0o644, []byte("abc")), w.Close()); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if a, b := build(), build(); !bytes.Equal(a, b) {
		t.Error("two archives of the same entries differ")
	}
}

func TestWriterRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(w *Writer) error
		want string
	}{
		{"parent missing", func(w *Writer) error { return w.Bytes("lib/x.ko", 0o644, nil) }, "parent directory lib not written first"},
		{"parent is a file", func(w *Writer) error {
			return errors.Join(w.Bytes("a", 0o644, nil), w.Bytes("a/b", 0o644, nil))
		}, "parent directory a not written first"},
		{"duplicate", func(w *Writer) error { return errors.Join(w.Dir("a", 0o755), w.Dir("a/", 0o755)) }, "a written twice"},
		{"root", func(w *Writer) error { return w.Dir("/", 0o755) }, `bad entry name "/"`},
		{"trailer name", func(w *Writer) error { return w.Bytes(trailer, 0o644, nil) }, "bad entry name"},
		{"short reader", func(w *Writer) error { return w.File("f", 0o644, 10, strings.NewReader("abc")) }, "f: short read: 3 of 10 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(NewWriter(&bytes.Buffer{}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return f.n, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterKeepsFirstError(t *testing.T) {
	w := NewWriter(&failWriter{n: 200})
	if err := w.Dir("a", 0o755); err != nil {
		t.Fatalf("first entry: %v", err)
	}
	err1 := w.Bytes("a/big", 0o644, bytes.Repeat([]byte("x"), 1000))
	err2 := w.Close()
	if err1 == nil || !strings.Contains(err1.Error(), "disk full") {
		t.Fatalf("write error = %v, want disk full", err1)
	}
	if err2 == nil || err2.Error() != err1.Error() {
		t.Errorf("Close after a failed write = %v, want the first error %v", err2, err1)
	}
}
