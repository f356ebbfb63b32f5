package vnetguestreceiver

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

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
	assert.Equal(t, &Config{}, cfg)

	cfg, err = loadConfig(t, "lab")
	require.NoError(t, err)
	assert.Equal(t, "/var/run/netns/vnl0-vm0", cfg.NetNS)
	assert.Equal(t, []string{"eth*"}, cfg.Interfaces.Include)

	_, err = loadConfig(t, "relative_netns")
	assert.ErrorContains(t, err, `netns: "netns/vm0" must be an absolute path`)
	_, err = loadConfig(t, "bad_glob")
	assert.ErrorContains(t, err, `interfaces.include[0]: bad glob "eth["`)
}
