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
	assert.Equal(t, []string{"softirq"}, cfg.Probes)
	assert.True(t, cfg.Metrics.VnetSoftirqCount.Enabled)
}

func TestCustomConfig(t *testing.T) {
	cfg, err := loadConfig(t, "custom")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, cfg.CollectionInterval)
	assert.Equal(t, []string{"softirq"}, cfg.Probes)
	assert.False(t, cfg.Metrics.VnetSoftirqCount.Enabled)
}

func TestConfigErrors(t *testing.T) {
	for name, want := range map[string]string{
		"unknown_probe":     `probes: unknown probe group "bogus"; allowed: softirq`,
		"no_probes":         "probes: list at least one probe group; allowed: softirq",
		"zero_interval":     `"collection_interval": requires positive value`,
		"negative_interval": `"collection_interval": requires positive value`,
		"unknown_key":       "has invalid keys: probez",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}
