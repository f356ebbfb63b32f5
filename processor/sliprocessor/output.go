package sliprocessor

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadata"
)

// Derived metric names and the attributes they add to the group's.
const (
	metricSLIValue        = "vnet.sli.value"
	metricBurnRate        = "vnet.slo.burn_rate"
	metricBudgetRemaining = "vnet.slo.error_budget.remaining"
	metricAlert           = "vnet.slo.alert"
	metricTriggerState    = "vnet.trigger.state"

	attrIndicator   = "vnet.sli.indicator"
	attrWindow      = "vnet.sli.window"
	attrPeriod      = "vnet.slo.period"
	attrLongWindow  = "vnet.slo.long_window"
	attrShortWindow = "vnet.slo.short_window"
	attrTrigger     = "vnet.trigger.name"
)

// output builds one evaluation's derived metrics: one resource (empty:
// groups may span resources; their attributes go on the points) and one
// scope, the processor's.
type output struct {
	md     pmetric.Metrics
	ts     pcommon.Timestamp
	sli    pmetric.NumberDataPointSlice
	burn   pmetric.NumberDataPointSlice
	budget pmetric.NumberDataPointSlice
	alert  pmetric.NumberDataPointSlice
	state  pmetric.NumberDataPointSlice
	// actions is vnet.remediation.actions, a cumulative sum.
	actions pmetric.NumberDataPointSlice
}

func newOutput(now time.Time) *output {
	o := &output{md: pmetric.NewMetrics(), ts: pcommon.NewTimestampFromTime(now)}
	sm := o.md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	ms := sm.Metrics()
	gauge := func(name, unit, desc string) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		m.SetDescription(desc)
		return m.SetEmptyGauge().DataPoints()
	}
	// The unit of vnet.sli.value depends on the indicator kind (README).
	o.sli = gauge(metricSLIValue, "", "Indicator value over a window: ratio of bad to total events, events per second, a histogram quantile, or a gauge aggregate.")
	o.burn = gauge(metricBurnRate, "1", "Error-budget burn rate over a window: error ratio divided by 1 - target.")
	o.budget = gauge(metricBudgetRemaining, "1", "Share of the period's error budget left; negative when overspent.")
	o.alert = gauge(metricAlert, "1", "1 while both windows of a burn-rate pair exceed its factor, else 0.")
	o.state = gauge(metricTriggerState, "1", "Trigger state: 0 ok, 1 pending, 2 firing, 3 recovering, 4 no_data.")
	m := ms.AppendEmpty()
	m.SetName(metricRemediation)
	m.SetUnit("{run}")
	m.SetDescription("Action runs by action, type, trigger and outcome, with the target's VM and interface when known.")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	o.actions = sum.DataPoints()
	return o
}

// finish drops the metrics that got no points and reports whether any
// point is left.
func (o *output) finish() bool {
	ms := o.md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	ms.RemoveIf(func(m pmetric.Metric) bool {
		if m.Type() == pmetric.MetricTypeSum {
			return m.Sum().DataPoints().Len() == 0
		}
		return m.Gauge().DataPoints().Len() == 0
	})
	return ms.Len() > 0
}

// point appends a point carrying the group's attributes and the
// indicator's name, with room for extra more attributes: sized once, the
// attributes are not copied again as the caller adds them.
func (o *output) point(to pmetric.NumberDataPointSlice, g *group, indicator string, extra int) pmetric.NumberDataPoint {
	dp := to.AppendEmpty()
	dp.SetTimestamp(o.ts)
	attrs := dp.Attributes()
	attrs.EnsureCapacity(g.typed.Len() + 1 + extra)
	g.typed.CopyTo(attrs)
	attrs.PutStr(attrIndicator, indicator)
	return dp
}
