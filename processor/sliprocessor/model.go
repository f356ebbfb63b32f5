package sliprocessor

import (
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/vnetpath/vnetpath/internal/action"
	"github.com/vnetpath/vnetpath/internal/sli/slo"
	"github.com/vnetpath/vnetpath/internal/sli/trigger"
	"github.com/vnetpath/vnetpath/internal/sli/window"
)

type kind uint8

const (
	ratioKind kind = iota
	rateKind
	quantileKind
	gaugeKind
)

// role says what an input metric is to its indicator; a ratio's metric can
// be both bad and total (drops count in both).
type role uint8

const (
	roleBad   role = 1 << iota // ratio numerator; also the only role of other kinds
	roleTotal                  // ratio denominator
)

// indicator is one compiled IndicatorConfig with the state of its groups
// and input streams.
type indicator struct {
	name    string
	kind    kind
	q       float64     // quantile
	ring    window.Kind // how its rings combine
	dim     int         // vector width; 0 for histograms, set per group
	metrics map[string]role
	where   map[string]string
	groupBy []string

	layouts     []window.Layout // every window it needs, ascending
	windowNames []string        // layouts' windows as attribute values ("5m")
	emit        []int           // layouts of vnet.sli.value
	triggers    []*triggerPlan
	objectives  []*objectivePlan

	streams     map[uint64]int32
	streamSlab  []stream
	freeStreams []int32
	groups      map[string]int32
	groupSlab   []*group
	freeGroups  []int32

	stats indicatorStats
}

// indicatorStats are counted under the lock and flushed to telemetry once
// per evaluation, so the per-point path never touches an instrument.
type indicatorStats struct {
	points [numOutcomes]int64
	resets int64
}

type outcome uint8

const (
	accepted outcome = iota
	duplicate
	outOfOrder
	invalidValue
	missingAttribute
	layoutMismatch
	unsupported
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"accepted", "duplicate", "out_of_order", "invalid_value", "missing_attribute", "layout_mismatch", "unsupported"}

type triggerPlan struct {
	name       string
	spec       trigger.Spec
	layout     int
	window     time.Duration
	noDataTick int64 // intervals without data that make no_data: 3 windows
	actions    []string
	dryRun     bool
}

type objectivePlan struct {
	target  float64
	period  int   // layout of the period
	windows []int // layouts of vnet.slo.burn_rate, ascending
	alerts  []alertPlan
	actions []string
}

type alertPlan struct {
	slo.BurnRateAlert
	long, short int // layouts
	name        string
}

// group is one indicator's state for one set of group_by values.
type group struct {
	key   string
	attrs []action.Attribute // for events and logs; never rewritten
	typed pcommon.Map        // the same values with their types, for output
	first int64              // interval of the first data point
	seen  int64              // interval of the last accepted data point

	pending []float64 // the open interval's vector
	rings   []window.Ring
	buf     []float64 // backing array of the rings

	machines []trigger.Machine // one per trigger of the indicator
	alerting []bool            // one per burn-rate pair, objectives in order

	hist histLayout // histogram groups only
}

// compile turns a validated configuration into indicators.
func compile(cfg *Config) ([]*indicator, error) {
	eval := cfg.EvaluationInterval.D()
	byName := map[string]*indicator{}
	emitOf := map[*indicator][]time.Duration{} // windows of vnet.sli.value
	out := make([]*indicator, 0, len(cfg.Indicators))
	for i := range cfg.Indicators {
		ic := &cfg.Indicators[i]
		ind := &indicator{
			name:    ic.Name,
			metrics: map[string]role{},
			where:   ic.Where,
			groupBy: ic.GroupBy,
			streams: map[uint64]int32{},
			groups:  map[string]int32{},
		}
		switch {
		case ic.Ratio != nil:
			ind.kind, ind.dim = ratioKind, 2
			for _, m := range ic.Ratio.Bad {
				ind.metrics[m] |= roleBad
			}
			for _, m := range ic.Ratio.Total {
				ind.metrics[m] |= roleTotal
			}
		case ic.Rate != nil:
			ind.kind, ind.dim = rateKind, 1
			for _, m := range ic.Rate.Metric {
				ind.metrics[m] = roleBad
			}
		case ic.Quantile != nil:
			ind.kind, ind.q = quantileKind, ic.Quantile.Q
			ind.metrics[ic.Quantile.Histogram] = roleBad
		case ic.Gauge != nil:
			ind.kind = gaugeKind
			ind.metrics[ic.Gauge.Metric] = roleBad
			switch ic.Gauge.Aggregation {
			case "max":
				ind.ring, ind.dim = window.Max, 1
			case "min":
				ind.ring, ind.dim = window.Min, 1
			default: // avg: sum and count
				ind.dim = 2
			}
		}
		emit := ic.Windows
		if len(emit) == 0 {
			emit = cfg.Windows
		}
		for _, w := range emit {
			emitOf[ind] = append(emitOf[ind], w.D())
		}
		byName[ind.name] = ind
		out = append(out, ind)
	}

	for i := range cfg.Triggers {
		tc := &cfg.Triggers[i]
		ind := byName[tc.Indicator]
		w := cfg.triggerWindow(tc)
		spec := trigger.Spec{For: tc.For, RecoverFor: tc.RecoverFor.D(), Cooldown: tc.Cooldown.D()}
		if tc.Above != nil {
			spec.Threshold, spec.Recover = *tc.Above, *tc.Above
			if tc.RecoverBelow != nil {
				spec.Recover = *tc.RecoverBelow
			}
		} else {
			spec.Below, spec.Threshold, spec.Recover = true, *tc.Below, *tc.Below
			if tc.RecoverAbove != nil {
				spec.Recover = *tc.RecoverAbove
			}
		}
		ind.triggers = append(ind.triggers, &triggerPlan{
			name:       tc.Name,
			spec:       spec,
			window:     w,
			noDataTick: 3 * int64(w/eval),
			actions:    tc.Actions,
			dryRun:     tc.DryRun || cfg.DryRun,
		})
		// A trigger's window is emitted too, to show what it watches.
		emitOf[ind] = append(emitOf[ind], w)
	}

	periodOf := map[*objectivePlan]time.Duration{}
	for i := range cfg.Objectives {
		oc := &cfg.Objectives[i]
		ind := byName[oc.Indicator]
		alerts := make([]slo.BurnRateAlert, 0, len(oc.BurnRateAlerts))
		for _, a := range oc.BurnRateAlerts {
			alerts = append(alerts, slo.BurnRateAlert{Long: a.Long.D(), Short: a.Short.D(), Factor: a.Factor})
		}
		if oc.BurnRateAlerts == nil {
			alerts = slo.DefaultAlerts(oc.Period.D())
		}
		op := &objectivePlan{target: oc.Target, actions: oc.Actions}
		for _, a := range alerts {
			// Workbook windows are not always multiples of a custom
			// evaluation interval; round them up to one.
			a.Long, a.Short = roundUp(a.Long, eval), roundUp(a.Short, eval)
			op.alerts = append(op.alerts, alertPlan{BurnRateAlert: a})
		}
		periodOf[op] = oc.Period.D()
		ind.objectives = append(ind.objectives, op)
	}

	for _, ind := range out {
		// Every window to lay out: the emitted ones and the objectives'.
		ws := slices.Clone(emitOf[ind])
		for _, op := range ind.objectives {
			ws = append(ws, periodOf[op])
			for _, a := range op.alerts {
				ws = append(ws, a.Long, a.Short)
			}
		}
		slices.Sort(ws)
		ws = slices.Compact(ws)
		index := map[time.Duration]int{}
		for _, w := range ws {
			l, err := window.NewLayout(w, eval, window.DefaultMaxSlots)
			if err != nil {
				return nil, fmt.Errorf("indicator %q: %w", ind.name, err)
			}
			index[w] = len(ind.layouts)
			ind.layouts = append(ind.layouts, l)
			ind.windowNames = append(ind.windowNames, Duration(w).String())
		}
		for _, w := range emitOf[ind] {
			ind.emit = append(ind.emit, index[w])
		}
		slices.Sort(ind.emit)
		ind.emit = slices.Compact(ind.emit)
		for _, t := range ind.triggers {
			t.layout = index[t.window]
		}
		for _, op := range ind.objectives {
			op.period = index[periodOf[op]]
			for k := range op.alerts {
				a := &op.alerts[k]
				a.long, a.short = index[a.Long], index[a.Short]
				a.name = fmt.Sprintf("slo:%s:%s/%s", ind.name, Duration(a.Long), Duration(a.Short))
				op.windows = append(op.windows, a.long, a.short)
			}
			slices.Sort(op.windows)
			op.windows = slices.Compact(op.windows)
		}
	}
	return out, nil
}

func roundUp(d, unit time.Duration) time.Duration {
	if r := d % unit; r != 0 {
		return d + unit - r
	}
	return d
}

// alertCount is how many burn-rate pairs a group tracks.
func (ind *indicator) alertCount() int {
	n := 0
	for _, op := range ind.objectives {
		n += len(op.alerts)
	}
	return n
}
