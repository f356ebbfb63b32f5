package qemu

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// resolveDepends returns the package a metapackage depends on, as apt-cache
// sees it: linux-image-cloud-amd64 -> linux-image-6.1.0-NN-cloud-amd64.
// With no package lists (a fresh machine) it runs apt-get update once.
func resolveDepends(ctx context.Context, meta string) (string, error) {
	dep, err := aptCacheDepends(ctx, meta)
	if err == nil {
		return dep, nil
	}
	if out, uerr := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
		return "", errors.Join(err, fmt.Errorf("apt-get update: %w: %s", uerr, out))
	}
	return aptCacheDepends(ctx, meta)
}

func aptCacheDepends(ctx context.Context, meta string) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", meta).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s: %w", meta, exitDetail(err))
	}
	for line := range strings.Lines(string(out)) {
		if dep, ok := strings.CutPrefix(strings.TrimSpace(line), "Depends: "); ok && !strings.HasPrefix(dep, "<") {
			return dep, nil
		}
	}
	return "", fmt.Errorf("apt-cache depends %s: no Depends line in %q", meta, out)
}

// download returns the cached .deb of pkg in dir, fetching it with apt-get
// download (the candidate version) when there is none.
func download(ctx context.Context, dir, pkg string) (string, error) {
	if p, err := cachedDeb(dir, pkg); err != nil || p != "" {
		return p, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("download %s: %w", pkg, err)
	}
	// Root downloads as root: apt's _apt sandbox user cannot write the cache.
	cmd := exec.CommandContext(ctx, "apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", pkg)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download %s: %w: %s", pkg, err, out)
	}
	p, err := cachedDeb(dir, pkg)
	if err == nil && p == "" {
		err = fmt.Errorf("apt-get download %s left no %s_*.deb in %s", pkg, pkg, dir)
	}
	return p, err
}

// cachedDeb finds dir/pkg_<version>_<arch>.deb; "" if absent.
func cachedDeb(dir, pkg string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if err != nil {
		return "", err
	}
	switch len(matches) {
	case 0:
		return "", nil
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("several cached versions of %s: %v; remove all but one", pkg, matches)
}

// walkDeb streams the files of a .deb's data archive (dpkg-deb
// --fsys-tarfile) to fn, with names like "boot/vmlinuz-...".
func walkDeb(ctx context.Context, deb string, fn func(name string, hdr *tar.Header, r io.Reader) error) error {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("dpkg-deb %s: %w", deb, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dpkg-deb %s: %w", deb, err)
	}
	walkErr := func() error {
		tr := tar.NewReader(out)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if hdr.Typeflag != tar.TypeReg {
				continue
			}
			if err := fn(strings.TrimPrefix(hdr.Name, "./"), hdr, tr); err != nil {
				return err
			}
		}
	}()
	_, _ = io.Copy(io.Discard, out) // let dpkg-deb finish writing before Wait
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", deb, errors.Join(walkErr, err), stderr.String())
	}
	if walkErr != nil {
		return fmt.Errorf("read %s: %w", deb, walkErr)
	}
	return nil
}

// exitDetail adds a failed command's stderr to its error.
func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	return err
}
