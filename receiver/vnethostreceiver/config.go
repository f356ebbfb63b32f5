package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/vnetpath/vnetpath/internal/netdev"
	"github.com/vnetpath/vnetpath/internal/pathtrace"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// Config is the vnet_host receiver's configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`

	// Probes lists the probe groups to attach.
	Probes []string `mapstructure:"probes"`
	// Interfaces selects the VM-facing devices by name.
	Interfaces InterfacesConfig `mapstructure:"interfaces"`
	// NetNS lists network namespaces to watch besides the collector's own,
	// by path (e.g. /var/run/netns/NAME).
	NetNS []string `mapstructure:"netns"`

	Softirq   SoftirqConfig   `mapstructure:"softirq"`
	Drops     DropsConfig     `mapstructure:"drops"`
	Ring      RingConfig      `mapstructure:"ring"`
	Workers   WorkersConfig   `mapstructure:"workers"`
	Discovery DiscoveryConfig `mapstructure:"discovery"`
	Maps      MapsConfig      `mapstructure:"maps"`
	// Tracing follows packets hop by hop when a traces pipeline uses the receiver.
	Tracing pathtrace.Settings `mapstructure:"tracing"`

	// hookRenames lets tests ask for a tracepoint this kernel lacks.
	hookRenames map[string]string
}

// InterfacesConfig selects devices by name globs.
type InterfacesConfig struct {
	Include []string `mapstructure:"include"`
	Exclude []string `mapstructure:"exclude"`
}

func (c InterfacesConfig) filter() netdev.Filter {
	return netdev.Filter{Include: c.Include, Exclude: c.Exclude}
}

// SoftirqConfig tunes the softirq group.
type SoftirqConfig struct {
	// HistogramVectors lists the vectors whose latency and duration
	// histograms are exported (counts are exported for every vector).
	HistogramVectors []string `mapstructure:"histogram_vectors"`
	// SampleEvery times one softirq raise in this many (a power of two; 1
	// times all) for the histograms; counts are exact.
	SampleEvery uint32 `mapstructure:"sample_every"`
}

// DropsConfig tunes the drops group.
type DropsConfig struct {
	// AllDevices counts drops on every device, not only the VM-facing ones.
	AllDevices bool `mapstructure:"all_devices"`
}

// RingConfig tunes the ring group.
type RingConfig struct {
	// MaxAge forgets a packet whose dequeue from a tap ring was never seen.
	MaxAge time.Duration `mapstructure:"max_age"`
	// SampleEvery follows one packet in this many (a power of two) into
	// the tap rings; 1 follows all. Each followed packet costs two clock
	// reads and a few map operations, several hundred ns on a host where
	// each of their pages needs a TLB walk.
	SampleEvery uint32 `mapstructure:"sample_every"`
}

// WorkersConfig selects the VM worker threads.
type WorkersConfig struct {
	// Threads are name globs of the VMM threads measured: vhost workers by
	// default; add QEMU's main loop thread ("qemu-system-*") for the tap +
	// QEMU mode, where it moves the packets.
	Threads []string `mapstructure:"threads"`
}

// DiscoveryConfig tunes VM discovery.
type DiscoveryConfig struct {
	// Interval between /proc scans; link changes also trigger one.
	Interval time.Duration `mapstructure:"interval"`
}

// MapsConfig sizes the kernel maps; what does not fit is counted.
type MapsConfig struct {
	Devices  uint32 `mapstructure:"devices"`
	DropKeys uint32 `mapstructure:"drop_keys"`
	Inflight uint32 `mapstructure:"inflight_packets"`
	Workers  uint32 `mapstructure:"workers"`
	VMMs     uint32 `mapstructure:"vmms"`
}

// sizes maps the configuration onto the BPF maps it sizes.
func (m MapsConfig) sizes() map[string]uint32 {
	return map[string]uint32{
		"dev_counters":   m.Devices,
		"drop_devices":   m.Devices,
		"ring_residence": m.Devices,
		"napi_counters":  m.Devices,
		"drop_counts":    m.DropKeys,
		"ring_inflight":  m.Inflight,
		"workers":        m.Workers,
		"worker_wait":    m.Workers,
		"worker_runtime": m.Workers,
		"kvm_counters":   m.VMMs,
	}
}

var softirqVectors = []string{"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"}

// Validate checks the configuration; errors name the field and the allowed values.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Probes) == 0 {
		errs = append(errs, fmt.Errorf("probes: list at least one probe group; allowed: %s", strings.Join(probes.Names(probes.Host), ", ")))
	}
	if err := probes.ValidateNames(probes.Host, c.Probes); err != nil {
		errs = append(errs, fmt.Errorf("probes: %w", err))
	}
	errs = append(errs, c.ControllerConfig.Validate(), c.Interfaces.filter().Validate("interfaces"))
	if len(c.Interfaces.Include) == 0 {
		errs = append(errs, errors.New("interfaces.include: list at least one name glob, e.g. vnet*"))
	}
	for i, p := range c.NetNS {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("netns[%d]: %q must be an absolute path such as /var/run/netns/NAME", i, p))
		}
	}
	for i, v := range c.Softirq.HistogramVectors {
		if !slices.Contains(softirqVectors, v) {
			errs = append(errs, fmt.Errorf("softirq.histogram_vectors[%d]: unknown vector %q; allowed: %s", i, v, strings.Join(softirqVectors, ", ")))
		}
	}
	if n := c.Softirq.SampleEvery; n == 0 || n&(n-1) != 0 {
		errs = append(errs, fmt.Errorf("softirq.sample_every: %d is not a power of two (1, 2, 4, ... ; 1 times every softirq)", n))
	}
	if n := c.Ring.SampleEvery; n == 0 || n&(n-1) != 0 {
		errs = append(errs, fmt.Errorf("ring.sample_every: %d is not a power of two (1, 2, 4, ... ; 1 follows every packet)", n))
	}
	if c.Ring.MaxAge <= 0 {
		errs = append(errs, fmt.Errorf("ring.max_age: must be positive, got %v", c.Ring.MaxAge))
	}
	for i, g := range c.Workers.Threads {
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("workers.threads[%d]: bad glob %q: %w", i, g, err))
		}
	}
	if c.Discovery.Interval <= 0 {
		errs = append(errs, fmt.Errorf("discovery.interval: must be positive, got %v", c.Discovery.Interval))
	}
	for field, v := range map[string]uint32{
		"maps.devices": c.Maps.Devices, "maps.drop_keys": c.Maps.DropKeys, "maps.inflight_packets": c.Maps.Inflight,
		"maps.workers": c.Maps.Workers, "maps.vmms": c.Maps.VMMs,
	} {
		if v == 0 || v > 1<<22 {
			errs = append(errs, fmt.Errorf("%s: %d outside [1, %d]", field, v, 1<<22))
		}
	}
	errs = append(errs, c.Tracing.Validate())
	return errors.Join(errs...)
}
