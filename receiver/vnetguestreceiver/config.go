package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/vnetpath/vnetpath/internal/netdev"
	"github.com/vnetpath/vnetpath/internal/pathtrace"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver/internal/metadata"
)

// Config is the vnet_guest receiver's configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`

	// NetNS is the network namespace holding the guest NICs, as a path such
	// as /var/run/netns/NAME; empty means the collector's own.
	NetNS string `mapstructure:"netns"`
	// Interfaces selects the guest NICs.
	Interfaces InterfacesConfig `mapstructure:"interfaces"`
	// Probes lists the metric probe groups to attach.
	Probes []string `mapstructure:"probes"`
	// Maps sizes the kernel maps; what does not fit is counted.
	Maps MapsConfig `mapstructure:"maps"`
	// Tracing follows packets hop by hop when a traces pipeline uses the receiver.
	Tracing pathtrace.Settings `mapstructure:"tracing"`
}

// InterfacesConfig selects devices by name.
type InterfacesConfig struct {
	// Include lists name globs; empty selects the devices driven by
	// virtio_net (their parent device is on the virtio bus).
	Include []string `mapstructure:"include"`
	Exclude []string `mapstructure:"exclude"`
}

func (c InterfacesConfig) selects(d netdev.Device) bool {
	if len(c.Include) == 0 {
		return d.ParentBus == "virtio" && !netdev.Filter{Include: c.Exclude}.Match(d.Name)
	}
	return netdev.Filter{Include: c.Include, Exclude: c.Exclude}.Match(d.Name)
}

// MapsConfig sizes the kernel maps.
type MapsConfig struct {
	Devices  uint32 `mapstructure:"devices"`
	DropKeys uint32 `mapstructure:"drop_keys"`
}

func (m MapsConfig) sizes() map[string]uint32 {
	return map[string]uint32{"drop_devices": m.Devices, "drop_counts": m.DropKeys, "trace_devices": m.Devices}
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate() error {
	var errs []error
	if c.NetNS != "" && !filepath.IsAbs(c.NetNS) {
		errs = append(errs, fmt.Errorf("netns: %q must be an absolute path such as /var/run/netns/NAME", c.NetNS))
	}
	errs = append(errs, netdev.Filter{Include: c.Interfaces.Include, Exclude: c.Interfaces.Exclude}.Validate("interfaces"))
	if len(c.Probes) == 0 {
		errs = append(errs, fmt.Errorf("probes: list at least one probe group; allowed: %s", strings.Join(probes.Names(probes.Guest), ", ")))
	}
	if err := probes.ValidateNames(probes.Guest, c.Probes); err != nil {
		errs = append(errs, fmt.Errorf("probes: %w", err))
	}
	for field, v := range map[string]uint32{"maps.devices": c.Maps.Devices, "maps.drop_keys": c.Maps.DropKeys} {
		if v == 0 || v > 1<<22 {
			errs = append(errs, fmt.Errorf("%s: %d outside [1, %d]", field, v, 1<<22))
		}
	}
	errs = append(errs, c.ControllerConfig.Validate(), c.Tracing.Validate())
	return errors.Join(errs...)
}
