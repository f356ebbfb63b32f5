package qemu

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vnetpath/vnetpath/internal/initramfs"
	"github.com/vnetpath/vnetpath/internal/vmlab"
)

//go:embed init.sh
var initScript []byte

// imageFormat changes whenever the initramfs layout changes, so cached
// images of an older layout are not reused.
const imageFormat = "vnetlab-initramfs-1"

// Spec says what goes into a guest image.
type Spec struct {
	// CacheDir holds downloaded packages, unpacked kernels and assembled
	// initramfs images; empty means .cache/qemu at the module root.
	CacheDir string
	// KernelPackage is the Debian metapackage whose dependency is the
	// kernel to boot; empty means linux-image-cloud-amd64 (virtio, BTF,
	// half the size of linux-image-amd64).
	KernelPackage string
	// Agent is a static vnetlab-guest binary; empty builds ./cmd/vnetlab-guest
	// with CGO_ENABLED=0 into CacheDir.
	Agent string
	// Collector is a static otelcol-vnetpath binary (ocb builds it with
	// CGO_ENABLED=0); empty leaves the collector out of the guest.
	Collector string
	// CollectorConfig is the guest collector's configuration; empty means
	// deploy/guest.yaml at the module root. Unused without Collector.
	CollectorConfig string
}

// Image is an assembled guest: a Debian kernel and an initramfs with
// busybox, the virtio-net modules, the agent and optionally the collector.
type Image struct {
	Kernel        string   `json:"kernel"`         // vmlinuz
	Initramfs     string   `json:"initramfs"`      // gzip-compressed newc cpio
	KernelPackage string   `json:"kernel_package"` // e.g. linux-image-6.1.0-56-cloud-amd64
	KernelRelease string   `json:"kernel_release"` // e.g. 6.1.0-56-cloud-amd64
	Modules       []string `json:"modules"`        // insmod order in the guest
	Builtin       []string `json:"builtin"`        // virtio-net modules built into the kernel
	Collector     bool     `json:"collector"`      // the guest starts otelcol-vnetpath
	Key           string   `json:"key"`            // cache key of the initramfs: SHA-256 of its inputs
	Cached        bool     `json:"cached"`         // the initramfs was reused from the cache
}

// Assemble builds the guest image described by spec, reusing what the cache
// holds: packages by name and version, the initramfs by the hash of all its
// inputs. It needs apt-get, apt-cache and dpkg-deb (Debian or Ubuntu) and,
// for the first download, Debian's package repositories.
func Assemble(ctx context.Context, spec Spec) (*Image, error) {
	root := ""
	if spec.CacheDir == "" || spec.Agent == "" || spec.Collector != "" && spec.CollectorConfig == "" {
		var err error
		if root, err = vmlab.SourceRoot(); err != nil {
			return nil, fmt.Errorf("guest image: %w; set Spec.CacheDir, Agent and CollectorConfig", err)
		}
	}
	cache := spec.CacheDir
	if cache == "" {
		cache = filepath.Join(root, ".cache", "qemu")
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("guest image cache: %w", err)
	}
	// Test packages and the CLI may assemble images at the same time.
	unlock, err := vmlab.LockFile(filepath.Join(cache, ".lock"))
	if err != nil {
		return nil, fmt.Errorf("guest image cache lock: %w", err)
	}
	defer unlock()

	meta := spec.KernelPackage
	if meta == "" {
		meta = "linux-image-cloud-amd64"
	}
	kpkg, err := resolveDepends(ctx, meta)
	if err != nil {
		return nil, fmt.Errorf("guest kernel: %w", err)
	}
	debs := filepath.Join(cache, "debs")
	kdeb, err := download(ctx, debs, kpkg)
	if err != nil {
		return nil, err
	}
	k, err := unpackKernel(ctx, kdeb, cache)
	if err != nil {
		return nil, err
	}
	bbdeb, err := download(ctx, debs, "busybox-static")
	if err != nil {
		return nil, err
	}
	busybox, err := unpackBusybox(ctx, bbdeb, cache)
	if err != nil {
		return nil, err
	}
	agent := spec.Agent
	if agent == "" {
		if agent, err = buildAgent(ctx, root, cache); err != nil {
			return nil, err
		}
	}
	in := []input{
		{name: "bin/busybox", src: busybox, mode: 0o755},
		{name: "bin/vnetlab-guest", src: agent, mode: 0o755, static: true},
	}
	for _, m := range k.Modules {
		in = append(in, input{name: "lib/modules/" + m + ".ko", src: k.module(m), mode: 0o644})
	}
	if spec.Collector != "" {
		cfg := spec.CollectorConfig
		if cfg == "" {
			cfg = filepath.Join(root, "deploy", "guest.yaml")
		}
		in = append(in,
			input{name: "bin/otelcol-vnetpath", src: spec.Collector, mode: 0o755, static: true},
			input{name: "etc/vnetpath/guest.yaml", src: cfg, mode: 0o644})
	}
	modList := []byte(strings.Join(k.Modules, "\n") + "\n")
	key, err := cacheKey(in, modList)
	if err != nil {
		return nil, err
	}
	img := &Image{
		Kernel: k.vmlinuz(), KernelPackage: k.Package, KernelRelease: k.Release,
		Modules: k.Modules, Builtin: k.Builtin, Collector: spec.Collector != "", Key: key,
		Initramfs: filepath.Join(cache, "initramfs-"+key[:16]+".cpio.gz"),
	}
	if _, err := os.Stat(img.Initramfs); err == nil {
		img.Cached = true
		now := time.Now()
		if err := os.Chtimes(img.Initramfs, now, now); err != nil { // in use: keep it from pruneImages
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		return img, nil
	}
	if err := writeInitramfs(img.Initramfs, in, modList); err != nil {
		return nil, err
	}
	return img, pruneImages(cache, img.Initramfs)
}

// imageMaxAge is how long an initramfs nobody assembled stays cached; every
// change to an input makes a new one.
const imageMaxAge = 24 * time.Hour

// pruneImages removes cached initramfs images other than keep that were not
// reused for imageMaxAge.
func pruneImages(cache, keep string) error {
	old, err := filepath.Glob(filepath.Join(cache, "initramfs-*.cpio.gz"))
	if err != nil {
		return err
	}
	for _, p := range old {
		st, err := os.Stat(p)
		if err != nil || p == keep || time.Since(st.ModTime()) < imageMaxAge {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("prune %s: %w", p, err)
		}
	}
	return nil
}

// input is a host file copied into the initramfs.
type input struct {
	name   string // path in the initramfs
	src    string
	mode   os.FileMode
	static bool // must be a statically linked ELF: the initramfs has no libc
}

// cacheKey hashes everything the initramfs is made of.
func cacheKey(in []input, modList []byte) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\ninit %d\n", imageFormat, len(initScript))
	h.Write(initScript)
	fmt.Fprintf(h, "modules %d\n", len(modList))
	h.Write(modList)
	for _, f := range in {
		if f.static {
			if err := checkStatic(f.src); err != nil {
				return "", err
			}
		}
		fh, err := os.Open(f.src)
		if err != nil {
			return "", fmt.Errorf("guest image input: %w", err)
		}
		fmt.Fprintf(h, "%s %o\n", f.name, f.mode)
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", fmt.Errorf("guest image input %s: %w", f.src, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkStatic refuses a dynamically linked executable.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("guest binary %s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("guest binary %s is dynamically linked; build it with CGO_ENABLED=0", p)
		}
	}
	return nil
}

// writeInitramfs writes the gzip-compressed archive to a temporary file and
// renames it into place.
func writeInitramfs(dst string, in []input, modList []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "initramfs-*.tmp")
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	// BestSpeed: the guest kernel inflates it under emulation at boot, and
	// higher levels save little on Go binaries.
	zw, err := gzip.NewWriterLevel(tmp, gzip.BestSpeed)
	if err != nil {
		tmp.Close()
		return err
	}
	err = fillInitramfs(initramfs.NewWriter(zw), in, modList)
	err = errors.Join(err, zw.Close(), tmp.Close())
	if err != nil {
		return fmt.Errorf("initramfs %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}

func fillInitramfs(w *initramfs.Writer, in []input, modList []byte) error {
	for _, d := range []string{"bin", "dev", "etc", "etc/vnetlab", "etc/vnetpath", "lib", "lib/modules", "proc", "run", "sys", "tmp"} {
		if err := w.Dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := w.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	if err := w.Symlink("bin/sh", "busybox"); err != nil {
		return err
	}
	if err := w.Bytes("init", 0o755, initScript); err != nil {
		return err
	}
	if err := w.Bytes("etc/vnetlab/modules", 0o644, modList); err != nil {
		return err
	}
	for _, f := range in {
		if err := copyInto(w, f); err != nil {
			return err
		}
	}
	return w.Close()
}

func copyInto(w *initramfs.Writer, f input) error {
	fh, err := os.Open(f.src)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	return w.File(f.name, f.mode, st.Size(), fh)
}

// unpackBusybox extracts bin/busybox of the busybox-static .deb once.
func unpackBusybox(ctx context.Context, deb, cache string) (string, error) {
	dst := filepath.Join(cache, "busybox-"+strings.TrimSuffix(filepath.Base(deb), ".deb"))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	var bin []byte
	err := walkDeb(ctx, deb, func(name string, _ *tar.Header, r io.Reader) error {
		if name != "bin/busybox" {
			return nil
		}
		var err error
		bin, err = io.ReadAll(r)
		return err
	})
	if err != nil {
		return "", err
	}
	if bin == nil {
		return "", fmt.Errorf("%s has no bin/busybox", deb)
	}
	if err := writeFile(dst+".tmp", bytes.NewReader(bin)); err != nil {
		return "", err
	}
	return dst, os.Rename(dst+".tmp", dst)
}

// buildAgent builds cmd/vnetlab-guest static into the cache; go build's own
// cache makes a rebuild of unchanged sources cheap.
func buildAgent(ctx context.Context, root, cache string) (string, error) {
	dst := filepath.Join(cache, "vnetlab-guest")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", dst+".tmp", "./cmd/vnetlab-guest")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build guest agent: go build ./cmd/vnetlab-guest: %w\n%s", err, out)
	}
	return dst, os.Rename(dst+".tmp", dst)
}
