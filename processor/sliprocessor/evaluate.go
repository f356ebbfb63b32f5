package sliprocessor

import (
	"context"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/action"
	"github.com/vnetpath/vnetpath/internal/sli/slo"
	"github.com/vnetpath/vnetpath/internal/sli/trigger"
	"github.com/vnetpath/vnetpath/internal/sli/window"
)

// transition is a trigger or burn-rate alert state change, logged and
// counted after the lock is released.
type transition struct {
	alert     bool // a burn-rate alert rather than a trigger
	name      string
	indicator string
	group     []action.Attribute
	value     float64
	hasValue  bool
	window    time.Duration
	short     time.Duration // alerts: the short window
	threshold float64
	from, to  string
	held      bool // reached firing while the cooldown holds the actions
	dryRun    bool
}

// delivery is an event for a list of actions.
type delivery struct {
	actions []string
	event   action.Event
	dryRun  bool
}

// evaluation gathers what one evaluation decided, for after the lock.
type evaluation struct {
	out         *output
	transitions []transition
	deliveries  []delivery
	held        []delivery // actions held back by a cooldown, counted
	stats       statsSnapshot
}

// evaluate closes the intervals that ended, computes every window, steps
// triggers and objectives, and sends the derived metrics downstream. The
// state is read and changed under the lock; logging, telemetry, action
// submission and the downstream call happen after it is released.
func (p *sliProcessor) evaluate(ctx context.Context) {
	began := p.clock.Now()
	p.mu.Lock()
	n := p.advance(began)
	ev := evaluation{}
	// Emit when an emit_interval boundary was crossed, even by a late tick.
	if slot := (n + 1) / p.emitEvery; slot > p.emitted {
		p.emitted = slot
		ev.out = newOutput(began)
	}
	for _, ind := range p.indicators {
		p.evaluateIndicator(ind, n, began, &ev)
	}
	p.expire(n)
	ev.stats = p.snapshot()
	p.mu.Unlock()

	p.report(ctx, &ev)
	if lost := p.remediations.emit(ev.out, began); lost > 0 {
		p.telemetry.ProcessorSliSeriesOverflow.Add(ctx, lost, metric.WithAttributes(attribute.String("limit", "remediation_series")))
	}
	if ev.out != nil && ev.out.finish() {
		if err := p.next.ConsumeMetrics(ctx, ev.out.md); err != nil {
			p.logger.Warn("sli derived metrics refused downstream", zap.Error(err))
		}
	}
	p.telemetry.ProcessorSliEvaluations.Add(ctx, 1)
	p.telemetry.ProcessorSliEvaluationDuration.Record(ctx, p.clock.Now().Sub(began).Seconds())
	if p.evaluated != nil {
		p.evaluated()
	}
}

// advance closes the intervals that ended by now and returns the last.
// A late tick (a slow downstream, a paused process) closes several at
// once: the pending data goes to the first, the interval it arrived in
// (ingestion stamped it so), and the rest close empty, so windows stay
// aligned with the clock.
func (p *sliProcessor) advance(now time.Time) int64 {
	ended := int64((now.Sub(p.epoch) + p.eval/2) / p.eval)
	k := max(ended-1-p.closed, 1)
	from := p.closed + 1
	p.closed += k
	for _, ind := range p.indicators {
		for _, g := range ind.groupSlab {
			if g != nil && g.rings != nil {
				ind.close(g, from, p.closed)
			}
		}
	}
	return p.closed
}

// close pushes the pending vector as interval from and empty intervals
// up to to into the group's rings.
func (ind *indicator) close(g *group, from, to int64) {
	for i, l := range ind.layouts {
		g.rings[i].Push(l, from, g.pending)
	}
	ind.clearPending(g)
	if from == to {
		return
	}
	for i, l := range ind.layouts {
		// Past one turn of the ring more empty intervals change nothing;
		// starting on a slot boundary makes every slot start afresh.
		start := to - l.Slots*l.TicksPerSlot + 1
		start -= start % l.TicksPerSlot
		for t := max(from+1, start); t <= to; t++ {
			g.rings[i].Push(l, t, g.pending) // cleared: the empty vector
		}
	}
}

// value computes the indicator over one window for a group. ok is false
// when the window holds no data point (stale) or no event to compute a
// value from (an empty histogram, a gauge without samples), or when the
// arithmetic overflowed.
func (p *sliProcessor) value(ind *indicator, g *group, li int, n int64) (v float64, ok, stale bool) {
	if g.rings == nil || n-g.seen >= ind.layouts[li].Ticks {
		return 0, false, true
	}
	v, ok = p.compute(ind, g, li, n)
	return v, ok && !math.IsNaN(v) && !math.IsInf(v, 0), false
}

func (p *sliProcessor) compute(ind *indicator, g *group, li int, n int64) (float64, bool) {
	vec := g.rings[li].Value()
	switch ind.kind {
	case ratioKind:
		return slo.ErrorRatio(vec[0], vec[1]), true
	case rateKind:
		covered := ind.layouts[li].Covered(n, g.first)
		if covered == 0 {
			return 0, false
		}
		return vec[0] / (float64(covered) * p.eval.Seconds()), true
	case quantileKind:
		return ind.quantile(g, vec)
	default:
		if ind.ring == window.Sum {
			if vec[1] == 0 {
				return 0, false
			}
			return vec[0] / vec[1], true
		}
		return vec[0], true // ±Inf (no sample) is refused by value
	}
}

func (p *sliProcessor) evaluateIndicator(ind *indicator, n int64, now time.Time, ev *evaluation) {
	for _, g := range ind.groupSlab {
		if g == nil {
			continue
		}
		if ev.out != nil {
			for _, li := range ind.emit {
				if v, ok, _ := p.value(ind, g, li, n); ok {
					dp := ev.out.point(ev.out.sli, g, ind.name, 1)
					dp.SetDoubleValue(v)
					dp.Attributes().PutStr(attrWindow, ind.windowNames[li])
				}
			}
		}
		for ti, t := range ind.triggers {
			p.stepTrigger(ind, g, ti, t, n, now, ev)
		}
		p.evaluateObjectives(ind, g, now, ev)
	}
}

func (p *sliProcessor) stepTrigger(ind *indicator, g *group, ti int, t *triggerPlan, n int64, now time.Time, ev *evaluation) {
	v, ok, stale := p.value(ind, g, t.layout, n)
	m := &g.machines[ti]
	// The machine counts recover_for and cooldown on the interval grid,
	// so a tick delivered a little late or early cannot add an interval.
	grid := p.epoch.Add(time.Duration(n+1) * p.eval)
	o := m.Step(&t.spec, trigger.Input{Now: grid, Value: v, HasValue: ok, Stale: stale, NoData: n-g.seen >= t.noDataTick})
	enteredFiring := false
	for k := 0; k < o.N; k++ {
		tr := o.Transitions[k]
		enteredFiring = enteredFiring || tr.To == trigger.Firing
		ev.transitions = append(ev.transitions, transition{
			name: t.name, indicator: ind.name, group: g.attrs, value: v, hasValue: ok,
			window: t.window, threshold: t.spec.Threshold,
			from: tr.From.String(), to: tr.To.String(),
			held: o.Held && tr.To == trigger.Firing, dryRun: t.dryRun,
		})
	}
	event := action.Event{
		Trigger: t.name, Indicator: ind.name, Value: v, Window: t.window,
		Group: g.attrs, Time: now,
	}
	switch {
	case o.Fire:
		event.State, event.Threshold = action.Firing, t.spec.Threshold
		ev.deliveries = append(ev.deliveries, delivery{actions: t.actions, event: event, dryRun: t.dryRun})
	case o.Resolve:
		event.State, event.Threshold = action.Resolved, t.spec.Recover
		ev.deliveries = append(ev.deliveries, delivery{actions: t.actions, event: event, dryRun: t.dryRun})
	case o.Held && enteredFiring:
		event.State, event.Threshold = action.Firing, t.spec.Threshold
		ev.held = append(ev.held, delivery{actions: t.actions, event: event})
	}
	if ev.out != nil {
		dp := ev.out.point(ev.out.state, g, ind.name, 2)
		dp.SetIntValue(int64(m.State()))
		dp.Attributes().PutStr(attrTrigger, t.name)
		dp.Attributes().PutStr(attrWindow, ind.windowNames[t.layout])
	}
}

func (p *sliProcessor) evaluateObjectives(ind *indicator, g *group, now time.Time, ev *evaluation) {
	if g.rings == nil {
		return
	}
	ai := 0
	for _, op := range ind.objectives {
		pv := g.rings[op.period].Value()
		for _, li := range op.windows {
			v := g.rings[li].Value()
			p.burn[li] = slo.BurnRate(v[0], v[1], op.target)
		}
		if ev.out != nil {
			dp := ev.out.point(ev.out.budget, g, ind.name, 1)
			dp.SetDoubleValue(slo.BudgetRemaining(pv[0], pv[1], op.target))
			dp.Attributes().PutStr(attrPeriod, ind.windowNames[op.period])
			for _, li := range op.windows {
				dp := ev.out.point(ev.out.burn, g, ind.name, 1)
				dp.SetDoubleValue(p.burn[li])
				dp.Attributes().PutStr(attrWindow, ind.windowNames[li])
			}
		}
		for _, a := range op.alerts {
			long, short := p.burn[a.long], p.burn[a.short]
			firing := a.Firing(long, short)
			if firing != g.alerting[ai] {
				g.alerting[ai] = firing
				from, to, state, threshold := "ok", "firing", action.Firing, a.Factor
				if !firing {
					from, to, state = "firing", "ok", action.Resolved
				}
				ev.transitions = append(ev.transitions, transition{
					alert: true, name: a.name, indicator: ind.name, group: g.attrs,
					value: long, hasValue: true, window: a.Long, short: a.Short,
					threshold: threshold, from: from, to: to, dryRun: p.cfg.DryRun,
				})
				if len(op.actions) > 0 {
					ev.deliveries = append(ev.deliveries, delivery{actions: op.actions, dryRun: p.cfg.DryRun, event: action.Event{
						Trigger: a.name, Indicator: ind.name, Value: long, Threshold: threshold,
						Window: a.Long, Group: g.attrs, State: state, Time: now,
					}})
				}
			}
			if ev.out != nil {
				dp := ev.out.point(ev.out.alert, g, ind.name, 2)
				if firing {
					dp.SetIntValue(1)
				} else {
					dp.SetIntValue(0)
				}
				dp.Attributes().PutStr(attrLongWindow, ind.windowNames[a.long])
				dp.Attributes().PutStr(attrShortWindow, ind.windowNames[a.short])
			}
			ai++
		}
	}
}

// expire drops groups and streams idle for the idle timeout, and the
// streams of dropped groups: a stream whose points were all refused is
// newer than its group, and must not outlive it to point at a slot that
// another group takes.
func (p *sliProcessor) expire(n int64) {
	for _, ind := range p.indicators {
		for gi, g := range ind.groupSlab {
			if g == nil || n-g.seen < p.idleTicks {
				continue
			}
			delete(ind.groups, g.key)
			ind.groupSlab[gi] = nil
			ind.freeGroups = append(ind.freeGroups, int32(gi))
			p.series--
			p.expiredSeries++
		}
		for si := range ind.streamSlab {
			s := &ind.streamSlab[si]
			if s.state == streamFree {
				continue
			}
			orphan := s.state == streamOK && ind.groupSlab[s.group] == nil
			if !orphan && n-s.seen < p.idleTicks {
				continue
			}
			delete(ind.streams, s.key)
			*s = stream{}
			ind.freeStreams = append(ind.freeStreams, int32(si))
			p.streams--
			p.expiredStreams++
		}
	}
}
