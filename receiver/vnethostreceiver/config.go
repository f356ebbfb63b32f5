package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// Config is the vnet_host receiver's configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`

	// Probes lists the probe groups to attach.
	Probes []string `mapstructure:"probes"`

	// hookRenames lets tests ask for a tracepoint this kernel lacks.
	hookRenames map[string]string
}

// Validate checks the configuration; errors name the field and the allowed values.
func (c *Config) Validate() error {
	if len(c.Probes) == 0 {
		return fmt.Errorf("probes: list at least one probe group; allowed: %s", strings.Join(probes.Names(), ", "))
	}
	if err := probes.ValidateNames(c.Probes); err != nil {
		return fmt.Errorf("probes: %w", err)
	}
	return errors.Join(c.ControllerConfig.Validate())
}
