//go:build linux

package vnethostreceiver // import "github.com/vnetpath/vnetpath/receiver/vnethostreceiver"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/kbtf"
	"github.com/vnetpath/vnetpath/internal/probes"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// reader turns one probe group's kernel maps into data points.
type reader interface {
	read(mb *metadata.MetricsBuilder, now pcommon.Timestamp) error
}

type hostScraper struct {
	cfg    *Config
	set    receiver.Settings
	logger *zap.Logger

	probes    *probes.Set
	mb        *metadata.MetricsBuilder
	telemetry *metadata.TelemetryBuilder
	readers   []reader
}

func newHostScraper(cfg *Config, set receiver.Settings) *hostScraper {
	return &hostScraper{cfg: cfg, set: set, logger: set.Logger}
}

func (s *hostScraper) start(ctx context.Context, _ component.Host) error {
	tb, err := metadata.NewTelemetryBuilder(s.set.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("create telemetry: %w", err)
	}
	s.telemetry = tb
	s.probes = probes.Open(s.logger, probes.Options{Groups: s.cfg.Probes, HookRenames: s.cfg.hookRenames})
	// Counters start at zero when the programs load.
	s.mb = metadata.NewMetricsBuilder(s.cfg.MetricsBuilderConfig, s.set, metadata.WithStartTime(pcommon.NewTimestampFromTime(time.Now())))

	names := kbtf.DefaultSource()
	var active, disabled []string
	for _, st := range s.probes.Status() {
		state := "active"
		if st.Active {
			active = append(active, st.Group)
			if err := s.addReader(st.Group, names); err != nil {
				return err
			}
		} else {
			state = "disabled"
			disabled = append(disabled, st.Group)
		}
		tb.VnetHostProbeGroups.Record(ctx, boolToInt(st.Active), metric.WithAttributes(
			attribute.String("group", st.Group), attribute.String("state", state), attribute.String("reason", st.Reason)))
	}
	s.logger.Info("vnet_host probes attached", zap.Strings("active", active), zap.Strings("disabled", disabled))
	return nil
}

func (s *hostScraper) addReader(group string, names kbtf.Source) error {
	g := s.probes.Group(group)
	switch group {
	case probes.Softirq:
		r, err := newSoftirqReader(g, names)
		if err != nil {
			return fmt.Errorf("softirq: %w", err)
		}
		s.readers = append(s.readers, r)
	}
	return nil
}

func (s *hostScraper) scrape(context.Context) (pmetric.Metrics, error) {
	now := pcommon.NewTimestampFromTime(time.Now())
	var errs []error
	for _, r := range s.readers {
		errs = append(errs, r.read(s.mb, now))
	}
	return s.mb.Emit(), errors.Join(errs...)
}

func (s *hostScraper) shutdown(context.Context) error {
	var err error
	if s.probes != nil {
		err = s.probes.Close()
	}
	if s.telemetry != nil {
		s.telemetry.Shutdown()
	}
	return err
}

func boolToInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
