package sharedcomp // import "github.com/vnetpath/vnetpath/internal/sharedcomp"

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vnetpath/vnetpath/internal/probes"
)

// ReportProbeGroups records every probe group on a receiver's probe groups
// gauge (1 attached, 0 disabled; attributes group, state, reason) and
// returns the attached and the disabled groups, for the start log.
func ReportProbeGroups(ctx context.Context, statuses []probes.Status, gauge metric.Int64Gauge) (active, disabled []string) {
	for _, st := range statuses {
		state, attached := "disabled", int64(0)
		if st.Active {
			state, attached = "active", 1
			active = append(active, st.Group)
		} else {
			disabled = append(disabled, st.Group)
		}
		gauge.Record(ctx, attached, metric.WithAttributes(
			attribute.String("group", st.Group), attribute.String("state", state), attribute.String("reason", st.Reason)))
	}
	return active, disabled
}
