package sliprocessor

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/action"
	"github.com/vnetpath/vnetpath/internal/sli/duration"
)

// statsSnapshot carries the counts gathered under the lock since the last
// evaluation to the telemetry instruments.
type statsSnapshot struct {
	indicators      []namedStats
	series, streams int64
	overflowSeries  int64
	overflowStreams int64
	expiredSeries   int64
	expiredStreams  int64
}

type namedStats struct {
	name string
	indicatorStats
}

// snapshot takes and resets the counts. Callers hold p.mu.
func (p *sliProcessor) snapshot() statsSnapshot {
	s := statsSnapshot{
		series: int64(p.series), streams: int64(p.streams),
		overflowSeries: p.overflowSeries, overflowStreams: p.overflowStreams,
		expiredSeries: p.expiredSeries, expiredStreams: p.expiredStreams,
	}
	p.overflowSeries, p.overflowStreams, p.expiredSeries, p.expiredStreams = 0, 0, 0, 0
	for _, ind := range p.indicators {
		s.indicators = append(s.indicators, namedStats{ind.name, ind.stats})
		ind.stats = indicatorStats{}
	}
	return s
}

// report logs the evaluation's transitions, hands events to the executor
// and records telemetry.
func (p *sliProcessor) report(ctx context.Context, ev *evaluation) {
	t := p.telemetry
	for _, s := range ev.stats.indicators {
		for o, c := range s.points {
			if c > 0 {
				t.ProcessorSliDataPoints.Add(ctx, c, metric.WithAttributes(
					attribute.String("indicator", s.name), attribute.String("outcome", outcomeNames[o])))
			}
		}
		if s.resets > 0 {
			t.ProcessorSliCounterResets.Add(ctx, s.resets, metric.WithAttributes(attribute.String("indicator", s.name)))
		}
	}
	t.ProcessorSliSeries.Record(ctx, ev.stats.series)
	t.ProcessorSliStreams.Record(ctx, ev.stats.streams)
	addIf := func(c metric.Int64Counter, n int64, kv attribute.KeyValue) {
		if n > 0 {
			c.Add(ctx, n, metric.WithAttributes(kv))
		}
	}
	addIf(t.ProcessorSliSeriesOverflow, ev.stats.overflowSeries, attribute.String("limit", "max_series"))
	addIf(t.ProcessorSliSeriesOverflow, ev.stats.overflowStreams, attribute.String("limit", "max_streams"))
	addIf(t.ProcessorSliSeriesExpired, ev.stats.expiredSeries, attribute.String("kind", "series"))
	addIf(t.ProcessorSliSeriesExpired, ev.stats.expiredStreams, attribute.String("kind", "stream"))

	for i := range ev.transitions {
		p.logTransition(ctx, &ev.transitions[i])
	}
	for _, d := range ev.held {
		for _, name := range d.actions {
			p.observeAction(&action.Report{Action: name, Type: p.actionTypes[name], Event: &d.event, Outcome: action.Held})
		}
	}
	for _, d := range ev.deliveries {
		d.event.DryRun = d.dryRun
		for _, name := range d.actions {
			// Submit never blocks; the executor reports every outcome,
			// dry runs included: the actions work out what they would do.
			p.executor.Submit(name, d.event)
		}
	}
}

func (p *sliProcessor) logTransition(ctx context.Context, tr *transition) {
	fields := []zap.Field{
		zap.String("indicator", tr.indicator),
		action.ZapGroup(tr.group),
		zap.String("window", duration.Format(tr.window)),
		zap.String("from", tr.from),
		zap.String("to", tr.to),
	}
	if tr.hasValue {
		fields = append(fields, zap.Float64("value", tr.value))
	}
	if tr.alert {
		fields = append(fields, zap.String("alert", tr.name), zap.String("short_window", duration.Format(tr.short)),
			zap.Float64("factor", tr.threshold))
		p.logger.Info("sli burn-rate alert", fields...)
		p.telemetry.ProcessorSliSloAlertTransitions.Add(ctx, 1, metric.WithAttributes(
			attribute.String("indicator", tr.indicator),
			attribute.String("long_window", duration.Format(tr.window)),
			attribute.String("short_window", duration.Format(tr.short)),
			attribute.String("to", tr.to)))
		return
	}
	fields = append(fields, zap.String("trigger", tr.name), zap.Float64("threshold", tr.threshold))
	if tr.held {
		fields = append(fields, zap.Bool("held_by_cooldown", true))
	}
	if tr.dryRun {
		fields = append(fields, zap.Bool("dry_run", true))
	}
	p.logger.Info("sli trigger transition", fields...)
	p.telemetry.ProcessorSliTriggerTransitions.Add(ctx, 1, metric.WithAttributes(
		attribute.String("trigger", tr.name), attribute.String("from", tr.from), attribute.String("to", tr.to)))
}

// observeAction is the executor's observer: every outcome is counted in
// the processor's telemetry and in vnet.remediation.actions.
func (p *sliProcessor) observeAction(r *action.Report) {
	ctx := context.Background()
	p.telemetry.ProcessorSliActions.Add(ctx, 1, metric.WithAttributes(
		attribute.String("action", r.Action), attribute.String("type", r.Type),
		attribute.String("state", string(r.Event.State)), attribute.String("outcome", string(r.Outcome))))
	if r.Result.Exited {
		p.telemetry.ProcessorSliActionExits.Add(ctx, 1, metric.WithAttributes(
			attribute.String("action", r.Action), attribute.Int("exit_code", r.Result.ExitCode)))
	}
	p.remediations.add(r, p.clock.Now())
}
