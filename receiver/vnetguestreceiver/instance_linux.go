//go:build linux

package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vnetpath/vnetpath/internal/netdev"
	"github.com/vnetpath/vnetpath/internal/pathtrace"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/internal/sharedcomp"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver/internal/metadata"
)

// instance is one configured vnet_guest receiver, shared by its metrics
// and traces pipelines: the probes, and the guest NICs they watch.
type instance struct {
	cfg    *Config
	set    receiver.Settings
	forget func()

	refs   sharedcomp.Refs
	traces consumer.Traces // set when a traces pipeline uses the receiver

	probes    *probes.Set
	tracing   pathtrace.Run
	telemetry *metadata.TelemetryBuilder
	loaded    pcommon.Timestamp
	watcher   *netdev.Watcher
	nics      *probes.KeyedMaps[probes.DevKey]
	names     atomic.Pointer[map[probes.DevKey]string] // guest NICs, published for readers
	done      chan struct{}
	wg        sync.WaitGroup
}

func (i *instance) acquire(ctx context.Context) error { return i.refs.Acquire(ctx, i.load) }

func (i *instance) release(ctx context.Context) error { return i.refs.Release(ctx, i.unload) }

// unload stops what load started, when the last pipeline stops.
func (i *instance) unload(context.Context) error {
	close(i.done)
	i.wg.Wait()
	_ = i.watcher.Close()
	err := i.probes.Close()
	i.telemetry.Shutdown()
	i.forget()
	return err
}

func (i *instance) load(ctx context.Context) error {
	w, err := netdev.Open([]string{i.cfg.NetNS})
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	tb, err := metadata.NewTelemetryBuilder(i.set.TelemetrySettings)
	if err != nil {
		_ = w.Close()
		return fmt.Errorf("create telemetry: %w", err)
	}
	groups, sizes, constants := i.cfg.Probes, i.cfg.Maps.sizes(), map[string]any{}
	if i.traces != nil {
		groups = append(append([]string(nil), groups...), probes.Trace)
		maps.Copy(sizes, i.cfg.Tracing.MapSizes())
		constants = pathtrace.ProbeConstants(i.cfg.Tracing, i.set.Logger)
	}
	set := probes.Open(i.set.Logger, probes.Options{Kind: probes.Guest, Groups: groups, MapSizes: sizes, Constants: constants})
	if err := tb.RegisterVnetGuestProbeEventsMissedCallback(sharedcomp.ObserveMissed(set, i.set.Logger)); err != nil {
		_ = w.Close()
		_ = set.Close()
		tb.Shutdown()
		return fmt.Errorf("register missed events: %w", err)
	}
	i.probes, i.telemetry, i.watcher, i.done = set, tb, w, make(chan struct{})
	i.loaded = pcommon.NewTimestampFromTime(time.Now())
	i.nics = i.nicMaps()
	i.names.Store(&map[probes.DevKey]string{})
	active, disabled := sharedcomp.ReportProbeGroups(ctx, set.Status(), tb.VnetGuestProbeGroups)
	if err := i.watchNetNS(); err != nil {
		i.set.Logger.Warn("TCP metrics cannot name the watched namespace", zap.Error(err))
	}
	i.refresh(ctx)
	// Named before the refresh loop starts: from then on it owns the maps.
	nics := i.nicNames()
	i.wg.Add(1)
	go i.loop()
	i.set.Logger.Info("vnet_guest probes attached", zap.Strings("active", active), zap.Strings("disabled", disabled),
		zap.String("netns", i.cfg.NetNS), zap.Strings("nics", nics))
	return nil
}

// nicMaps are the maps with one entry per guest NIC, of the groups that run.
func (i *instance) nicMaps() *probes.KeyedMaps[probes.DevKey] {
	d := &probes.KeyedMaps[probes.DevKey]{Entries: map[*ebpf.Map]any{}, ID: func(k probes.DevKey) uint32 { return k.Ifindex }}
	for _, x := range []struct{ group, entries, filter string }{
		{probes.Drops, "drop_devices", "drop_filter"},
		{probes.Trace, "trace_devices", "trace_filter"},
	} {
		if g := i.probes.Group(x.group); g != nil {
			d.Entries[g.Map(x.entries)] = uint8(1)
			d.Filters = append(d.Filters, g.Map(x.filter))
		}
	}
	return d
}

// watchNetNS tells the tcp group which namespace's sockets count.
func (i *instance) watchNetNS() error {
	g := i.probes.Group(probes.TCP)
	if g == nil {
		return nil
	}
	return g.Map("tcp_netns").Put(i.watcher.Namespaces()[0], uint8(1))
}

// loop refreshes the guest NICs when links change: a NIC hot-plugged,
// renamed or removed.
func (i *instance) loop() {
	defer i.wg.Done()
	for {
		select {
		case <-i.done:
			return
		case <-i.watcher.Changes():
			i.refresh(context.Background())
		}
	}
}

func (i *instance) refresh(ctx context.Context) {
	devs, err := i.watcher.List()
	if err != nil {
		i.set.Logger.Warn("Listing the guest's devices failed", zap.Error(err))
		return
	}
	names := map[probes.DevKey]string{}
	want := map[probes.DevKey]bool{}
	for _, d := range devs {
		k := probes.DevKey{NetNS: d.NetNS, Ifindex: d.Ifindex}
		names[k] = d.Name
		if i.cfg.Interfaces.selects(d) {
			want[k] = true
		}
	}
	if err := i.nics.Sync(want); err != nil {
		if errors.Is(err, unix.E2BIG) {
			i.telemetry.VnetGuestMapOverflows.Add(ctx, 1, metric.WithAttributes(attribute.String("map", "devices")))
		}
		i.set.Logger.Warn("Kernel map update failed", zap.Error(err))
	}
	i.names.Store(&names)
}

func (i *instance) nicNames() []string {
	var out []string
	for k, n := range *i.names.Load() {
		if i.nics.Has(k) {
			out = append(out, n)
		}
	}
	return out
}

// tracesHandle is the traces pipeline's component: the tracer runs while
// it does.
func (i *instance) tracesHandle() *sharedcomp.Handle {
	start := func() error {
		return i.tracing.Start(i.probes, i.cfg.Tracing, pathtrace.Guest, nicAttribution{i}, i.traces, i.set.Logger, func(t *pathtrace.Tracer) error {
			return errors.Join(
				i.telemetry.RegisterVnetGuestTraceRecordsCallback(t.ObserveRecords),
				i.telemetry.RegisterVnetGuestTraceSpansCallback(t.ObserveSpans),
				i.telemetry.RegisterVnetGuestTraceUnfollowedCallback(t.ObserveUnfollowed),
			)
		})
	}
	return sharedcomp.TracesHandle(i.acquire, i.release, start, i.tracing.Stop)
}

// nicAttribution names spans' devices: the guest's own NICs.
type nicAttribution struct{ i *instance }

func (a nicAttribution) Device(netns, ifindex uint32) (pathtrace.Device, bool) {
	name, ok := (*a.i.names.Load())[probes.DevKey{NetNS: netns, Ifindex: ifindex}]
	return pathtrace.Device{Interface: name}, ok
}
