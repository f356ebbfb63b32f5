package vnethostreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, cfg.CollectionInterval)
	assert.Equal(t, []string{"softirq", "napi", "devices", "drops", "ring", "workers", "kvm"}, cfg.Probes)
	assert.Equal(t, []string{"vnet*", "tap*", "macvtap*"}, cfg.Interfaces.Include)
	assert.Empty(t, cfg.NetNS)
	assert.Equal(t, SoftirqConfig{SampleEvery: 8}, cfg.Softirq)
	assert.False(t, cfg.Drops.AllDevices)
	assert.Equal(t, 10*time.Second, cfg.Ring.MaxAge)
	assert.Equal(t, []string{"vhost-*"}, cfg.Workers.Threads)
	assert.Equal(t, 10*time.Second, cfg.Discovery.Interval)
	assert.Equal(t, MapsConfig{Devices: 1024, DropKeys: 4096, Inflight: 65536, Workers: 4096, VMMs: 1024}, cfg.Maps)
	assert.True(t, cfg.Metrics.VnetSoftirqCount.Enabled)
}

func TestCustomConfig(t *testing.T) {
	cfg, err := loadConfig(t, "custom")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, cfg.CollectionInterval)
	assert.Equal(t, []string{"softirq", "devices", "drops"}, cfg.Probes)
	assert.Equal(t, InterfacesConfig{Include: []string{"vnet*", "tap*"}, Exclude: []string{"vnet9*"}}, cfg.Interfaces)
	assert.Equal(t, []string{"/var/run/netns/tenant-a"}, cfg.NetNS)
	assert.Equal(t, SoftirqConfig{HistogramVectors: []string{"NET_RX"}, SampleEvery: 2}, cfg.Softirq)
	assert.True(t, cfg.Drops.AllDevices)
	assert.Equal(t, 2*time.Second, cfg.Ring.MaxAge)
	assert.Equal(t, []string{"vhost-*", "IO *"}, cfg.Workers.Threads)
	assert.Equal(t, 3*time.Second, cfg.Discovery.Interval)
	assert.Equal(t, MapsConfig{Devices: 256, DropKeys: 8192, Inflight: 1024, Workers: 128, VMMs: 64}, cfg.Maps)
	assert.False(t, cfg.Metrics.VnetSoftirqCount.Enabled)
}

func TestConfigErrors(t *testing.T) {
	for name, want := range map[string]string{
		"unknown_probe":      `probes: unknown probe group "bogus"; allowed: softirq, napi, devices, drops, ring, workers, kvm`,
		"no_probes":          "probes: list at least one probe group; allowed: softirq, napi, devices, drops, ring, workers, kvm",
		"zero_interval":      `"collection_interval": requires positive value`,
		"negative_interval":  `"collection_interval": requires positive value`,
		"unknown_key":        "has invalid keys: probez",
		"bad_glob":           `interfaces.include[0]: bad glob "vnet["`,
		"no_include":         "interfaces.include: list at least one name glob",
		"relative_netns":     `netns[0]: "netns/a" must be an absolute path`,
		"bad_vector":         `softirq.histogram_vectors[0]: unknown vector "NET_RXX"; allowed: HI, TIMER, NET_TX, NET_RX`,
		"bad_ring_age":       "ring.max_age: must be positive, got 0s",
		"bad_discovery":      "discovery.interval: must be positive, got -1s",
		"bad_map":            "maps.drop_keys: 0 outside [1, 4194304]",
		"bad_softirq_sample": "softirq.sample_every: 3 is not a power of two",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}
