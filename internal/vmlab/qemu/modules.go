package qemu

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path"
	"strings"
)

// modName is a module's name from its file name: dashes become
// underscores, as the kernel and modinfo's depends= spell them.
func modName(file string) string {
	base := path.Base(file)
	for _, ext := range []string{".ko.xz", ".ko.zst", ".ko.gz", ".ko"} {
		if s, ok := strings.CutSuffix(base, ext); ok {
			return strings.ReplaceAll(s, "-", "_")
		}
	}
	return ""
}

// modDepends reads depends= from a module's .modinfo ELF section.
func modDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf(".modinfo: %w", err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if deps, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(deps) == 0 {
				return nil, nil
			}
			return strings.Split(string(deps), ","), nil
		}
	}
	return nil, nil
}

// loadOrder lists the modules to insmod for roots, dependencies first,
// leaving out what is built into the kernel. deps maps every module of the
// kernel package to its depends=.
func loadOrder(roots []string, deps map[string][]string, builtin map[string]bool) ([]string, error) {
	var order []string
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(m string, from []string) error
	visit = func(m string, from []string) error {
		switch {
		case builtin[m] || state[m] == 2:
			return nil
		case state[m] == 1:
			return fmt.Errorf("module dependency cycle: %s -> %s", strings.Join(from, " -> "), m)
		}
		d, ok := deps[m]
		if !ok {
			return fmt.Errorf("module %s (needed by %v) is neither built in nor in the kernel package", m, from)
		}
		state[m] = 1
		for _, dep := range d {
			if err := visit(dep, append(from, m)); err != nil {
				return err
			}
		}
		state[m] = 2
		order = append(order, m)
		return nil
	}
	for _, r := range roots {
		if err := visit(r, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
