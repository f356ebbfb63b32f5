package sharedcomp

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/vnetpath/vnetpath/internal/probes"
)

func TestReportProbeGroups(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	gauge, err := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test").Int64Gauge("probe_groups")
	require.NoError(t, err)
	active, disabled := ReportProbeGroups(context.Background(), []probes.Status{
		{Group: "drops", Active: true},
		{Group: "napi", Reason: "tracepoint napi_poll: hook not found in this kernel"},
		{Group: "tcp", Active: true},
	}, gauge)
	require.Equal(t, []string{"drops", "tcp"}, active)
	require.Equal(t, []string{"napi"}, disabled)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	point := func(group, state, reason string, v int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Value: v, Attributes: attribute.NewSet(
			attribute.String("group", group), attribute.String("state", state), attribute.String("reason", reason))}
	}
	metricdatatest.AssertEqual(t, metricdata.Metrics{Name: "probe_groups", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{
		point("drops", "active", "", 1),
		point("napi", "disabled", "tracepoint napi_poll: hook not found in this kernel", 0),
		point("tcp", "active", "", 1),
	}}}, rm.ScopeMetrics[0].Metrics[0], metricdatatest.IgnoreTimestamp())
}
