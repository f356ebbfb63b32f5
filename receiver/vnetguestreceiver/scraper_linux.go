//go:build linux

package vnetguestreceiver // import "github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"

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

	"github.com/vnetpath/vnetpath/internal/kbtf"
	"github.com/vnetpath/vnetpath/internal/kmetrics"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver/internal/metadata"
)

var histTCPSrtt = kmetrics.HistDesc{Name: "vnet.tcp.srtt",
	Description: "Smoothed round-trip time of the guest's TCP sockets, sampled at every segment TCP receives (tcp:tcp_probe)."}

type guestScraper struct {
	inst    *instance
	logger  *zap.Logger
	mb      *metadata.MetricsBuilder
	readers map[string]func(*collection) error
}

// collection is what one scrape writes into.
type collection struct {
	mb    *metadata.MetricsBuilder
	hists *kmetrics.Histograms
	names map[probes.DevKey]string
	now   pcommon.Timestamp
}

// emitSums ends a collection of a counter and records each series with
// rec, under the series' own start time.
func emitSums[S, A comparable](c *collection, cum *kmetrics.Cumulative[S, A], rec func(a A, v int64)) {
	cum.Collect(c.now, func(a A, start pcommon.Timestamp, v []uint64) {
		// The builder stamps the data points it records with its start time.
		c.mb.Reset(metadata.WithStartTime(start))
		rec(a, int64(v[0]))
	})
}

func newGuestScraper(inst *instance, set receiver.Settings) *guestScraper {
	return &guestScraper{inst: inst, logger: set.Logger}
}

func (s *guestScraper) start(ctx context.Context, _ component.Host) error {
	if err := s.inst.acquire(ctx); err != nil {
		return err
	}
	s.readers = map[string]func(*collection) error{}
	if g := s.inst.probes.Group(probes.Drops); g != nil {
		reasons, err := kbtf.DefaultSource().DropReasons()
		if err != nil {
			_ = s.inst.release(ctx)
			return fmt.Errorf("name drop reasons: %w", err)
		}
		s.readers[probes.Drops] = dropsReader(g.Map("drop_counts"), reasons, s.inst.loaded)
	}
	if g := s.inst.probes.Group(probes.TCP); g != nil {
		s.readers[probes.TCP] = tcpReader(g, s.inst.loaded)
	}
	// Set last: shutdown releases the instance only if start succeeded.
	s.mb = metadata.NewMetricsBuilder(s.inst.cfg.MetricsBuilderConfig, s.inst.set, metadata.WithStartTime(s.inst.loaded))
	return nil
}

func (s *guestScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	c := &collection{mb: s.mb, hists: kmetrics.NewHistograms(), names: *s.inst.names.Load(), now: pcommon.NewTimestampFromTime(time.Now())}
	var errs []error
	for group, read := range s.readers {
		if err := read(c); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", group, err))
			s.inst.telemetry.VnetGuestMapReadErrors.Add(ctx, 1, metric.WithAttributes(attribute.String("group", group)))
			s.logger.Warn("Reading probe group maps failed", zap.String("group", group), zap.Error(err))
		}
	}
	md := s.mb.Emit()
	c.hists.MoveTo(md, metadata.ScopeName, s.inst.set.BuildInfo.Version)
	if len(errs) > 0 {
		return md, scrapererror.NewPartialScrapeError(errors.Join(errs...), len(errs))
	}
	return md, nil
}

func (s *guestScraper) shutdown(ctx context.Context) error {
	if s.mb == nil {
		return nil // never started, or start failed and released
	}
	return s.inst.release(ctx)
}

type dropAttrs struct{ nic, reason string }

// dropsReader reads drops per guest NIC and reason.
func dropsReader(m *ebpf.Map, reasons kbtf.Names, loaded pcommon.Timestamp) func(*collection) error {
	drops := kmetrics.NewCumulative[probes.DropKey, dropAttrs](loaded)
	return func(c *collection) error {
		err := kmetrics.Iterate(m, func(k probes.DropKey, perCPU []uint64) {
			drops.Add(k, dropAttrs{c.names[k.Dev], reasons.Name(uint64(k.Reason))}, kmetrics.Sum(perCPU))
		})
		if err != nil {
			return err
		}
		emitSums(c, drops, func(a dropAttrs, v int64) { c.mb.RecordVnetPacketDropsDataPoint(c.now, v, a.nic, a.reason) })
		return nil
	}
}

// tcpReader reads the retransmit counter and the srtt histogram.
func tcpReader(g *probes.Group, loaded pcommon.Timestamp) func(*collection) error {
	retrans := kmetrics.NewCumulative[int, int](loaded)
	srtt := kmetrics.NewCumulative[int, int](loaded)
	return func(c *collection) error {
		var counts []uint64
		var hists []probes.Hist
		if err := g.Map("tcp_retransmits").Lookup(uint32(0), &counts); err != nil {
			return fmt.Errorf("read tcp_retransmits: %w", err)
		}
		if err := g.Map("tcp_srtt").Lookup(uint32(0), &hists); err != nil {
			return fmt.Errorf("read tcp_srtt: %w", err)
		}
		retrans.Add(0, 0, kmetrics.Sum(counts))
		srtt.Add(0, 0, kmetrics.HistValues(hists)...)
		emitSums(c, retrans, func(_ int, v int64) { c.mb.RecordVnetTCPRetransmitsDataPoint(c.now, v) })
		kmetrics.EmitHistograms(c.hists, histTCPSrtt, srtt, c.now, func(int, pcommon.Map) {})
		return nil
	}
}
