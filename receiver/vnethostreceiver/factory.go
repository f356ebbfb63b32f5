package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

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
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// NewFactory creates the vnet_host receiver factory.
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
		Probes:               probes.Names(probes.Host),
		Interfaces:           InterfacesConfig{Include: []string{"vnet*", "tap*", "macvtap*"}},
		Softirq:              SoftirqConfig{SampleEvery: 8},
		Ring:                 RingConfig{MaxAge: 10 * time.Second, SampleEvery: 64},
		Workers:              WorkersConfig{Threads: []string{"vhost-*"}},
		Discovery:            DiscoveryConfig{Interval: 10 * time.Second},
		Maps:                 MapsConfig{Devices: 1024, DropKeys: 4096, Inflight: 65536, Workers: 4096, VMMs: 1024},
		Tracing:              pathtrace.DefaultSettings(pathtrace.Host),
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
	hs := newHostScraper(instanceFor(c, set), set)
	s, err := scraper.NewMetrics(hs.scrape, scraper.WithStart(hs.start), scraper.WithShutdown(hs.shutdown))
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
