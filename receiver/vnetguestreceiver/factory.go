package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

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
	return &Config{}
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, _ consumer.Metrics) (receiver.Metrics, error) {
	return newGuestReceiver(cfg.(*Config), set), nil
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, _ consumer.Traces) (receiver.Traces, error) {
	return newGuestReceiver(cfg.(*Config), set), nil
}
