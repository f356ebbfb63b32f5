package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
)

// Config is the vnet_guest receiver's configuration.
type Config struct {
	// NetNS is the network namespace holding the guest NICs, as a path such
	// as /var/run/netns/NAME; empty means the collector's own.
	NetNS string `mapstructure:"netns"`
	// Interfaces selects the guest NICs.
	Interfaces InterfacesConfig `mapstructure:"interfaces"`
}

// InterfacesConfig selects devices by name.
type InterfacesConfig struct {
	// Include lists name globs; empty selects the devices driven by virtio_net.
	Include []string `mapstructure:"include"`
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate() error {
	var errs []error
	if c.NetNS != "" && !filepath.IsAbs(c.NetNS) {
		errs = append(errs, fmt.Errorf("netns: %q must be an absolute path such as /var/run/netns/NAME", c.NetNS))
	}
	for i, g := range c.Interfaces.Include {
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("interfaces.include[%d]: bad glob %q: %w", i, g, err))
		}
	}
	return errors.Join(errs...)
}
