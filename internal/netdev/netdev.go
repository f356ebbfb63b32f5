// Package netdev lists network devices across the network namespaces a
// collector watches and reports when links come and go. A device is named
// by (namespace inode, ifindex), the key the BPF programs use: an ifindex
// alone is ambiguous across namespaces.
package netdev

import (
	"errors"
	"fmt"
	"path"
)

// Device is a network device in a watched namespace.
type Device struct {
	NetNS   uint32 // inode of the network namespace
	Ifindex uint32
	Name    string
	NSPath  string // the configured path; "" for the collector's own namespace
	// ParentBus is the bus of the device's parent ("virtio" for a
	// virtio-net NIC, "pci" for a physical one); "" for virtual devices.
	ParentBus string
}

// Filter selects devices by name globs (path.Match syntax).
type Filter struct {
	Include []string
	Exclude []string
}

// Validate checks the globs; field names the configuration key for errors.
func (f Filter) Validate(field string) error {
	var errs []error
	for kind, globs := range map[string][]string{"include": f.Include, "exclude": f.Exclude} {
		for i, g := range globs {
			if _, err := path.Match(g, ""); err != nil {
				errs = append(errs, fmt.Errorf("%s.%s[%d]: bad glob %q: %w", field, kind, i, g, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Match reports whether a name is included and not excluded.
func (f Filter) Match(name string) bool {
	return matchAny(f.Include, name) && !matchAny(f.Exclude, name)
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
