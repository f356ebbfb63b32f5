package sliprocessor

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/vnetpath/vnetpath/internal/action"
	"github.com/vnetpath/vnetpath/internal/sli/clock"
	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadata"
)

// NewFactory returns the sli processor's factory.
func NewFactory() processor.Factory {
	registry := newRegistry()
	return processor.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig(registry) },
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

// newRegistry lists the action types the processor knows.
func newRegistry() *action.Registry {
	r, err := action.NewRegistry(
		action.LogFactory{},
		action.SignalFactory{},
		action.TxQueueLenFactory{},
		action.AffinityFactory{},
		action.QMPFactory{},
		action.WebhookFactory{},
		action.ExecFactory{},
	)
	if err != nil {
		panic(err) // the list above is static
	}
	return r
}

func createDefaultConfig(registry *action.Registry) *Config {
	return &Config{
		EvaluationInterval: Duration(time.Second),
		MaxSeries:          10000,
		Windows:            []Duration{Duration(10 * time.Second), Duration(time.Minute), Duration(5 * time.Minute)},
		ActionQueueSize:    16,
		ActionTimeout:      Duration(10 * time.Second),
		Audit:              action.AuditConfig{MaxBytes: 16 << 20, MaxBackups: 3},
		registry:           registry,
	}
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("sli: configuration of type %T", cfg)
	}
	p, err := newProcessor(set, c, next, clock.Real{})
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithStart(p.Start),
		processorhelper.WithShutdown(p.Shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	)
}
