//go:build linux

package pathtrace

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/identity"
	"github.com/vnetpath/vnetpath/internal/kbtf"
	"github.com/vnetpath/vnetpath/internal/kmetrics"
	"github.com/vnetpath/vnetpath/internal/probes"
)

// Tracer is a receiver's trace side: the trace probe group's ring buffer,
// read by a Runner into spans for the next consumer.
type Tracer struct {
	group  *probes.Group
	runner *Runner
}

// StartTracer starts reading the trace group's records.
func StartTracer(g *probes.Group, s Settings, side Side, attr Attribution, next consumer.Traces, logger *zap.Logger) (*Tracer, error) {
	reasons, err := kbtf.DefaultSource().DropReasons()
	if err != nil {
		return nil, fmt.Errorf("name drop reasons: %w", err)
	}
	asm, err := NewAssembler(Config{
		Side:              side,
		ServiceName:       s.ServiceName,
		Key:               identity.NewKey(s.Key),
		MaxSpansPerSecond: s.MaxSpansPerSecond,
		RootCacheSize:     s.RootCacheSize,
		DropReason:        func(r uint32) string { return reasons.Name(uint64(r)) },
		Attribution:       attr,
	})
	if err != nil {
		return nil, err
	}
	r, err := NewRunner(g.Map("trace_events"), asm, next, s.FlushInterval, logger)
	if err != nil {
		return nil, err
	}
	r.Start()
	return &Tracer{group: g, runner: r}, nil
}

// Stop sends what was assembled and stops reading.
func (t *Tracer) Stop() error { return t.runner.Stop() }

// The kernel's trace_errors slots (bpf/trace_common.h).
const (
	errMapFull      = 0
	errRingFull     = 1
	errDropsLimited = 2
)

func (t *Tracer) kernelErrors(slot uint32) int64 {
	var perCPU []uint64
	if err := t.group.Map("trace_errors").Lookup(slot, &perCPU); err != nil {
		return 0
	}
	return int64(kmetrics.Sum(perCPU))
}

// ObserveRecords reports records by outcome, for the receiver's telemetry.
func (t *Tracer) ObserveRecords(_ context.Context, o metric.Int64Observer) error {
	records, rejected, _, _ := t.runner.Counts()
	o.Observe(int64(records), metric.WithAttributes(attribute.String("outcome", "decoded")))
	o.Observe(int64(rejected), metric.WithAttributes(attribute.String("outcome", "rejected")))
	o.Observe(t.kernelErrors(errRingFull), metric.WithAttributes(attribute.String("outcome", "lost")))
	return nil
}

// ObserveSpans reports spans by outcome.
func (t *Tracer) ObserveSpans(_ context.Context, o metric.Int64Observer) error {
	_, _, _, st := t.runner.Counts()
	o.Observe(int64(st.SpansEmitted), metric.WithAttributes(attribute.String("outcome", "emitted")))
	o.Observe(int64(st.SpansShed), metric.WithAttributes(attribute.String("outcome", "shed")))
	return nil
}

// ObserveUnfollowed reports packets the kernel could not trace, by reason.
func (t *Tracer) ObserveUnfollowed(_ context.Context, o metric.Int64Observer) error {
	o.Observe(t.kernelErrors(errMapFull), metric.WithAttributes(attribute.String("reason", "map_full")))
	o.Observe(t.kernelErrors(errDropsLimited), metric.WithAttributes(attribute.String("reason", "drop_rate")))
	return nil
}
