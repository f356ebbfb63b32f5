package qemu

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// netModules are the roots of what a guest needs for virtio-net over PCI;
// their dependencies (virtio, virtio_ring, virtio_pci_*_dev, net_failover,
// failover) follow from the modules' own depends=.
var netModules = []string{"virtio_pci", "virtio_net"}

// kernel is a kernel package unpacked into the cache: the image and the
// modules a guest loads, in load order.
type kernel struct {
	Package string   `json:"package"` // e.g. linux-image-6.1.0-56-cloud-amd64
	Release string   `json:"release"` // e.g. 6.1.0-56-cloud-amd64
	Modules []string `json:"modules"` // insmod order; built-in ones left out
	Builtin []string `json:"builtin"` // netModules and dependencies built into the image
	dir     string
}

func (k *kernel) vmlinuz() string           { return filepath.Join(k.dir, "vmlinuz") }
func (k *kernel) module(name string) string { return filepath.Join(k.dir, name+".ko") }

// unpackKernel extracts vmlinuz and the virtio-net modules of a kernel .deb
// into cacheDir/kernel-<deb name>/, once: later calls read kernel.json.
func unpackKernel(ctx context.Context, deb, cacheDir string) (*kernel, error) {
	dir := filepath.Join(cacheDir, "kernel-"+strings.TrimSuffix(filepath.Base(deb), ".deb"))
	if b, err := os.ReadFile(filepath.Join(dir, "kernel.json")); err == nil {
		k := &kernel{dir: dir}
		if err := json.Unmarshal(b, k); err != nil {
			return nil, fmt.Errorf("cached kernel %s: %w", dir, err)
		}
		return k, nil
	}
	// First pass: every module's dependencies, and the built-in list.
	deps := map[string][]string{}
	builtin := map[string]bool{}
	release := ""
	err := walkDeb(ctx, deb, func(name string, _ *tar.Header, r io.Reader) error {
		if rel, ok := strings.CutPrefix(name, "boot/vmlinuz-"); ok {
			release = rel
		}
		if strings.HasPrefix(name, "lib/modules/") && path.Base(name) == "modules.builtin" {
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				builtin[modName(sc.Text())] = true
			}
			return sc.Err()
		}
		m := modName(name)
		if m == "" || !strings.HasPrefix(name, "lib/modules/") {
			return nil
		}
		if !strings.HasSuffix(name, ".ko") {
			return fmt.Errorf("%s: compressed modules are not supported (this needs an uncompressed .ko, as Debian 12 ships)", name)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if deps[m], err = modDepends(b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if release == "" {
		return nil, fmt.Errorf("%s has no boot/vmlinuz-*", deb)
	}
	order, err := loadOrder(netModules, deps, builtin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", deb, err)
	}
	k := &kernel{Package: strings.SplitN(filepath.Base(deb), "_", 2)[0], Release: release, Modules: order}
	for _, m := range append(append([]string{}, netModules...), allDeps(netModules, deps)...) {
		if builtin[m] {
			k.Builtin = append(k.Builtin, m)
		}
	}

	// Second pass: write vmlinuz and the modules to load into a fresh dir,
	// renamed into place whole so a crash leaves no half kernel.
	tmp, err := os.MkdirTemp(cacheDir, "kernel-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("unpack %s: %w", deb, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, m := range order {
		want[m] = true
	}
	k.dir = tmp
	err = walkDeb(ctx, deb, func(name string, _ *tar.Header, r io.Reader) error {
		switch m := modName(name); {
		case name == "boot/vmlinuz-"+release:
			return writeFile(k.vmlinuz(), r)
		case strings.HasPrefix(name, "lib/modules/") && want[m]:
			return writeFile(k.module(m), r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range append([]string{k.vmlinuz()}, modulePaths(k)...) {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", deb, err)
		}
	}
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "kernel.json"), b, 0o644); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", deb, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("unpack %s: %w", deb, err)
	}
	k.dir = dir
	return k, nil
}

func modulePaths(k *kernel) []string {
	var ps []string
	for _, m := range k.Modules {
		ps = append(ps, k.module(m))
	}
	return ps
}

// allDeps lists the transitive dependencies of roots, without the roots.
func allDeps(roots []string, deps map[string][]string) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(string)
	walk = func(m string) {
		for _, d := range deps[m] {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
				walk(d)
			}
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

func writeFile(p string, r io.Reader) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	return f.Close()
}
