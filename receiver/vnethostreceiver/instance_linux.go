//go:build linux

package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/pathtrace"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/internal/sharedcomp"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// instance is one configured vnet_host receiver: its probes and engine,
// shared by the metrics and traces pipelines that use it. The first
// pipeline to start loads the probes; the last to stop unloads them.
type instance struct {
	cfg *Config
	set receiver.Settings
	// forget removes the instance from the factory's registry.
	forget func()

	refs   sharedcomp.Refs
	traces consumer.Traces // set when a traces pipeline uses the receiver

	probes    *probes.Set
	engine    *engine
	tracing   pathtrace.Run
	telemetry *metadata.TelemetryBuilder
	loaded    pcommon.Timestamp
}

func (i *instance) acquire(ctx context.Context) error { return i.refs.Acquire(ctx, i.load) }

func (i *instance) release(ctx context.Context) error { return i.refs.Release(ctx, i.unload) }

// unload stops what load started, when the last pipeline stops.
func (i *instance) unload(context.Context) error {
	i.engine.stop()
	err := i.probes.Close()
	i.telemetry.Shutdown()
	i.forget()
	return err
}

func (i *instance) load(ctx context.Context) error {
	tb, err := metadata.NewTelemetryBuilder(i.set.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("create telemetry: %w", err)
	}
	groups := i.cfg.Probes
	sizes := i.cfg.Maps.sizes()
	constants := map[string]any{
		"all_devices":         i.cfg.Drops.AllDevices,
		"ring_sample_mask":    uint64(i.cfg.Ring.SampleEvery - 1),
		"softirq_sample_mask": uint64(i.cfg.Softirq.SampleEvery - 1),
	}
	if i.traces != nil {
		groups = append(append([]string(nil), groups...), probes.Trace)
		maps.Copy(sizes, i.cfg.Tracing.MapSizes())
		maps.Copy(constants, pathtrace.ProbeConstants(i.cfg.Tracing, i.set.Logger))
	}
	var unattached []string
	if len(i.cfg.Softirq.HistogramVectors) == 0 {
		// Counts only: the raise and exit programs time the histograms.
		unattached = []string{"vnet_softirq_raise", "vnet_softirq_exit"}
	}
	set := probes.Open(i.set.Logger, probes.Options{
		Kind:        probes.Host,
		Groups:      groups,
		MapSizes:    sizes,
		Constants:   constants,
		Unattached:  unattached,
		HookRenames: i.cfg.hookRenames,
	})
	if err := tb.RegisterVnetHostProbeEventsMissedCallback(sharedcomp.ObserveMissed(set, i.set.Logger)); err != nil {
		_ = set.Close()
		tb.Shutdown()
		return fmt.Errorf("register missed events: %w", err)
	}
	// Kernel counters start at zero when the programs load.
	loaded := pcommon.NewTimestampFromTime(time.Now())
	eng, err := newEngine(i.cfg, i.set.Logger, tb, set)
	if err != nil {
		_ = set.Close()
		tb.Shutdown()
		return fmt.Errorf("watch devices: %w", err)
	}
	active, disabled := sharedcomp.ReportProbeGroups(ctx, set.Status(), tb.VnetHostProbeGroups)
	eng.start(ctx)
	i.probes, i.engine, i.telemetry, i.loaded = set, eng, tb, loaded
	i.set.Logger.Info("vnet_host probes attached", zap.Strings("active", active), zap.Strings("disabled", disabled),
		zap.Strings("interfaces.include", i.cfg.Interfaces.Include), zap.Strings("netns", i.cfg.NetNS))
	return nil
}

// tracesHandle is the traces pipeline's component: the tracer runs while
// it does.
func (i *instance) tracesHandle() *sharedcomp.Handle {
	start := func() error {
		return i.tracing.Start(i.probes, i.cfg.Tracing, pathtrace.Host, traceAttribution{i.engine}, i.traces, i.set.Logger, func(t *pathtrace.Tracer) error {
			return errors.Join(
				i.telemetry.RegisterVnetHostTraceRecordsCallback(t.ObserveRecords),
				i.telemetry.RegisterVnetHostTraceSpansCallback(t.ObserveSpans),
				i.telemetry.RegisterVnetHostTraceUnfollowedCallback(t.ObserveUnfollowed),
			)
		})
	}
	return sharedcomp.TracesHandle(i.acquire, i.release, start, i.tracing.Stop)
}

// traceAttribution names spans' devices from the engine's latest attribution.
type traceAttribution struct{ e *engine }

func (a traceAttribution) Device(netns, ifindex uint32) (pathtrace.Device, bool) {
	d := a.e.attribution().device(probes.DevKey{NetNS: netns, Ifindex: ifindex})
	if d.name == "" {
		return pathtrace.Device{}, false
	}
	return pathtrace.Device{Interface: d.name, VM: d.vm.name, VMMPID: uint32(d.vm.pid)}, true
}
