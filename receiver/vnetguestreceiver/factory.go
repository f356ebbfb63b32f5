package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/vnetpath/vnetpath/internal/pathtrace"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/internal/sharedcomp"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver/internal/metadata"
)

// NewFactory creates the vnet_guest receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
		receiver.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	cc := scraperhelper.NewDefaultControllerConfig()
	cc.CollectionInterval = 10 * time.Second
	return &Config{
		ControllerConfig:     cc,
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		Probes:               probes.Names(probes.Guest),
		Maps:                 MapsConfig{Devices: 64, DropKeys: 1024},
		Tracing:              pathtrace.DefaultSettings(pathtrace.Guest),
	}
}

// instances holds one instance per configuration, shared by the metrics
// and traces pipelines of that receiver, so its probes load once.
var instances sharedcomp.Map[*Config, instance]

func instanceFor(cfg *Config, set receiver.Settings) *instance {
	return instances.Get(cfg, func(forget func()) *instance {
		return &instance{cfg: cfg, set: set, forget: forget}
	})
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	c := cfg.(*Config)
	gs := newGuestScraper(instanceFor(c, set), set)
	s, err := scraper.NewMetrics(gs.scrape, scraper.WithStart(gs.start), scraper.WithShutdown(gs.shutdown))
	if err != nil {
		return nil, err
	}
	return scraperhelper.NewMetricsController(&c.ControllerConfig, set, next, scraperhelper.AddMetricsScraper(metadata.Type, s))
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	inst := instanceFor(cfg.(*Config), set)
	inst.traces = next
	return inst.tracesHandle(), nil
}
