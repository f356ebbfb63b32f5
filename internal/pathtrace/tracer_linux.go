//go:build linux

package pathtrace

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/identity"
	"github.com/vnetpath/vnetpath/internal/kbtf"
	"github.com/vnetpath/vnetpath/internal/kmetrics"
	"github.com/vnetpath/vnetpath/internal/probes"
)

// ProbeConstants are the trace programs' constants: the settings, and the
// kernel's tick rate their drop budget refills by.
func ProbeConstants(s Settings, logger *zap.Logger) map[string]any {
	c := s.Constants()
	hz, err := probes.KernelHZ()
	if err != nil {
		logger.Warn("Measuring the kernel tick rate failed; drop tracing assumes 250 Hz", zap.Error(err))
		hz = 250
	}
	c["trace_hz"] = uint64(hz)
	return c
}

// Tracer is a receiver's trace side: the trace probe group's ring buffer,
// read by a Runner into spans for the next consumer.
type Tracer struct {
	group  *probes.Group
	runner *Runner
	done   chan struct{}
	wg     sync.WaitGroup
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
	t := &Tracer{group: g, runner: r, done: make(chan struct{})}
	if g.Map("trace_dropped_gen") != nil {
		t.wg.Add(1)
		go t.rotateDropped(logger)
	}
	return t, nil
}

// Run is a receiver's tracer while its traces pipeline runs.
type Run struct{ t *Tracer }

// Start starts a tracer on set's trace group and has observe register its
// telemetry; a disabled trace group (reported when the set loaded) leaves
// nothing to read.
func (r *Run) Start(set *probes.Set, s Settings, side Side, attr Attribution, next consumer.Traces, logger *zap.Logger,
	observe func(*Tracer) error,
) error {
	g := set.Group(probes.Trace)
	if g == nil {
		return nil
	}
	t, err := StartTracer(g, s, side, attr, next, logger)
	if err != nil {
		return err
	}
	r.t = t
	return observe(t)
}

// Stop sends what the tracer assembled and stops it.
func (r *Run) Stop() error {
	if r.t == nil {
		return nil
	}
	err := r.t.Stop()
	r.t = nil
	return err
}

// Stop sends what was assembled and stops reading.
func (t *Tracer) Stop() error {
	close(t.done)
	t.wg.Wait()
	return t.runner.Stop()
}

// droppedWindow is how long a dropped identity is looked for: longer than
// TCP waits to retransmit, even after a few backoffs.
const droppedWindow = 5 * time.Second

// rotateDropped clears the older of the host's two dropped-identity
// bitmaps and makes it the current one, every droppedWindow: an identity
// stays findable for one to two windows.
func (t *Tracer) rotateDropped(logger *zap.Logger) {
	defer t.wg.Done()
	tick := time.NewTicker(droppedWindow)
	defer tick.Stop()
	gen, bits := t.group.Map("trace_dropped_gen"), t.group.Map("trace_dropped_bits")
	empty := make([]byte, bits.ValueSize())
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		var g uint32
		if err := gen.Lookup(uint32(0), &g); err != nil {
			logger.Warn("Reading the dropped-identity generation failed", zap.Error(err))
			continue
		}
		if err := bits.Put((g+1)&1, empty); err != nil {
			logger.Warn("Clearing dropped identities failed", zap.Error(err))
			continue
		}
		if err := gen.Put(uint32(0), g+1); err != nil {
			logger.Warn("Rotating dropped identities failed", zap.Error(err))
		}
	}
}

// The kernel's trace_errors slots (bpf/trace_common.h).
const (
	errMapFull      = 0
	errRingFull     = 1
	errDropsLimited = 2
	errMapBusy      = 3
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
	o.Observe(t.kernelErrors(errMapBusy), metric.WithAttributes(attribute.String("reason", "map_busy")))
	o.Observe(t.kernelErrors(errDropsLimited), metric.WithAttributes(attribute.String("reason", "drop_rate")))
	return nil
}
