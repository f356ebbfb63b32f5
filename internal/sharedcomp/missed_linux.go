//go:build linux

package sharedcomp // import "github.com/vnetpath/vnetpath/internal/sharedcomp"

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/probes"
)

// ObserveMissed reports each attached program's missed events
// (probes.Set.Missed) on a receiver's probe events missed counter.
func ObserveMissed(set *probes.Set, logger *zap.Logger) metric.Int64Callback {
	return func(_ context.Context, o metric.Int64Observer) error {
		missed, err := set.Missed()
		if err != nil {
			logger.Debug("Reading programs' missed events failed", zap.Error(err))
		}
		for _, m := range missed {
			o.Observe(int64(m.Events), metric.WithAttributes(attribute.String("group", m.Group), attribute.String("program", m.Program)))
		}
		return nil
	}
}
