package vnetguestreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/vnetpath/vnetpath/internal/netdev"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver/internal/metadata"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, confmap.Validate(cfg)
}

func TestConfig(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, cfg.CollectionInterval)
	assert.Equal(t, "", cfg.NetNS)
	assert.Empty(t, cfg.Interfaces.Include)
	assert.Equal(t, []string{"drops", "tcp"}, cfg.Probes)
	assert.Equal(t, MapsConfig{Devices: 64, DropKeys: 1024}, cfg.Maps)

	cfg, err = loadConfig(t, "lab")
	require.NoError(t, err)
	assert.Equal(t, "/var/run/netns/vnlab0-vm0", cfg.NetNS)
	assert.Equal(t, []string{"vnlab0-g0"}, cfg.Interfaces.Include)
	assert.Equal(t, []string{"drops"}, cfg.Probes)
	assert.Equal(t, MapsConfig{Devices: 8, DropKeys: 128}, cfg.Maps)

	for name, want := range map[string]string{
		"relative_netns": `netns: "netns/vm0" must be an absolute path`,
		"bad_glob":       `interfaces.include[0]: bad glob "eth["`,
		"bad_probe":      `probes: unknown probe group "devices"; allowed: drops, tcp`,
		"bad_map":        "maps.devices: 0 outside [1, 4194304]",
	} {
		_, err := loadConfig(t, name)
		assert.ErrorContains(t, err, want, name)
	}
}

func TestDefaultSelectsVirtioNICs(t *testing.T) {
	def := InterfacesConfig{}
	assert.True(t, def.selects(netdev.Device{Name: "eth0", ParentBus: "virtio"}))
	assert.False(t, def.selects(netdev.Device{Name: "lo"}))
	assert.False(t, def.selects(netdev.Device{Name: "eth1", ParentBus: "pci"}))
	assert.False(t, InterfacesConfig{Exclude: []string{"eth0"}}.selects(netdev.Device{Name: "eth0", ParentBus: "virtio"}))
	named := InterfacesConfig{Include: []string{"vnlab*"}}
	assert.True(t, named.selects(netdev.Device{Name: "vnlab0-g0"}))
	assert.False(t, named.selects(netdev.Device{Name: "eth0", ParentBus: "virtio"}))
}
