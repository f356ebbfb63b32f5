//go:build linux

package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/discovery"
	"github.com/vnetpath/vnetpath/internal/kbtf"
	"github.com/vnetpath/vnetpath/internal/kmetrics"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// group is one attached probe group as the scraper reads it.
type group struct {
	name    string
	reader  reader
	breaker *kmetrics.Breaker
	// errs is the group's kernel-side error array, if it has one.
	errs      *ebpf.Map
	overflows uint64
}

type hostScraper struct {
	inst   *instance
	logger *zap.Logger
	mb     *metadata.MetricsBuilder
	groups []*group
}

func newHostScraper(inst *instance, set receiver.Settings) *hostScraper {
	return &hostScraper{inst: inst, logger: set.Logger}
}

func (s *hostScraper) start(ctx context.Context, _ component.Host) error {
	if err := s.inst.acquire(ctx); err != nil {
		return err
	}
	for _, st := range s.inst.probes.Status() {
		if !st.Active || st.Group == probes.Trace {
			continue
		}
		r, err := s.newReader(st.Group, s.inst.loaded)
		if err != nil {
			_ = s.inst.release(ctx)
			return fmt.Errorf("%s: %w", st.Group, err)
		}
		g := s.inst.probes.Group(st.Group)
		s.groups = append(s.groups, &group{name: st.Group, reader: r, breaker: kmetrics.NewBreaker(time.Now), errs: g.Map(st.Group + "_errors")})
	}
	// Set last: shutdown releases the instance only if start succeeded.
	s.mb = metadata.NewMetricsBuilder(s.inst.cfg.MetricsBuilderConfig, s.inst.set, metadata.WithStartTime(s.inst.loaded))
	return nil
}

func (s *hostScraper) newReader(name string, loaded pcommon.Timestamp) (reader, error) {
	g := s.inst.probes.Group(name)
	names := kbtf.DefaultSource()
	switch name {
	case probes.Softirq:
		vectors, err := names.SoftirqVectors()
		if err != nil {
			return nil, fmt.Errorf("name softirq vectors: %w", err)
		}
		return newSoftirqReader(g, vectors, s.inst.cfg.Softirq.HistogramVectors, loaded), nil
	case probes.NAPI:
		return newNAPIReader(g, loaded), nil
	case probes.Devices:
		return newDevicesReader(g, loaded), nil
	case probes.Drops:
		reasons, err := names.DropReasons()
		if err != nil {
			return nil, fmt.Errorf("name drop reasons: %w", err)
		}
		return newDropsReader(g, reasons, loaded), nil
	case probes.Ring:
		return newRingReader(g, loaded), nil
	case probes.Workers:
		return newWorkersReader(g, loaded), nil
	case probes.KVM:
		return newKVMReader(g, loaded, vmFromProc), nil
	}
	return nil, fmt.Errorf("no reader for probe group %q", name)
}

// vmFromProc names a KVM user the discovery did not list (a VM without a tap).
func vmFromProc(pid uint32) vmInfo {
	name, _ := (&discovery.Scanner{}).VMName(int(pid)) // nameless if it cannot be read
	return vmInfo{name: name, pid: int64(pid)}
}

func (s *hostScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	c := &collection{mb: s.mb, hists: kmetrics.NewHistograms(), attr: s.inst.engine.attribution(), now: pcommon.NewTimestampFromTime(time.Now())}
	var errs []error
	for _, g := range s.groups {
		if !g.breaker.Allow() {
			s.inst.telemetry.VnetHostMapReadsSkipped.Add(ctx, 1, metric.WithAttributes(attribute.String("group", g.name)))
			continue
		}
		err := s.readWithRetry(g, c)
		g.breaker.Done(err)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", g.name, err))
			s.inst.telemetry.VnetHostMapReadErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("group", g.name)))
			s.logger.Warn("Reading probe group maps failed", zap.String("group", g.name), zap.Bool("breaker_open", g.breaker.Open()), zap.Error(err))
		}
		s.countOverflows(ctx, g)
	}
	md := s.mb.Emit()
	c.hists.MoveTo(md, metadata.ScopeName, s.inst.set.BuildInfo.Version)
	if len(errs) > 0 {
		return md, scrapererror.NewPartialScrapeError(errors.Join(errs...), len(errs))
	}
	return md, nil
}

// readRetryPause spaces the retries of a failed read.
const readRetryPause = 20 * time.Millisecond

// readWithRetry retries transient failures (a map changing under an
// iteration) twice, with a growing pause.
func (s *hostScraper) readWithRetry(g *group, c *collection) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * readRetryPause)
		}
		if err = g.reader.read(c); err == nil {
			return nil
		}
	}
	return err
}

// kernelInsertedMap names the map each group's programs insert into, the
// one whose overflows its error array counts.
var kernelInsertedMap = map[string]string{
	probes.NAPI: "napi_counters", probes.Drops: "drop_counts", probes.Ring: "ring_inflight", probes.KVM: "kvm_counters",
}

// countOverflows turns the kernel's cumulative map-full count into telemetry.
func (s *hostScraper) countOverflows(ctx context.Context, g *group) {
	if g.errs == nil {
		return
	}
	var perCPU []uint64
	if err := g.errs.Lookup(probes.ErrMapFull, &perCPU); err != nil {
		return
	}
	total := kmetrics.Sum(perCPU)
	if total > g.overflows {
		s.inst.telemetry.VnetHostMapOverflows.Add(ctx, int64(total-g.overflows), metric.WithAttributes(attribute.String("map", kernelInsertedMap[g.name])))
		g.overflows = total
	}
}

func (s *hostScraper) shutdown(ctx context.Context) error {
	if s.mb == nil {
		return nil // never started, or start failed and released
	}
	return s.inst.release(ctx)
}
