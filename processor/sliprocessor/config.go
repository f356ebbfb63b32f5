package sliprocessor // import "github.com/vnetpath/vnetpath/processor/sliprocessor"

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/confmap"

	"github.com/vnetpath/vnetpath/internal/action"
	"github.com/vnetpath/vnetpath/internal/sli/duration"
)

// Config is the sli processor's configuration.
type Config struct {
	// EvaluationInterval is how often windows slide, triggers step and
	// derived metrics are computed; every window is a multiple of it.
	EvaluationInterval Duration `mapstructure:"evaluation_interval"`
	// EmitInterval is how often derived metrics go downstream, a multiple
	// of EvaluationInterval; 0 emits on every evaluation.
	EmitInterval Duration `mapstructure:"emit_interval"`
	// MaxSeries bounds the groups (one indicator's group_by values) held
	// over all indicators.
	MaxSeries int `mapstructure:"max_series"`
	// MaxStreams bounds the input streams tracked for deltas over all
	// indicators; 0 means 5 x MaxSeries.
	MaxStreams int `mapstructure:"max_streams"`
	// IdleTimeout drops groups and streams without data for that long; 0
	// means the larger of 5m and 4 x the longest trigger window.
	IdleTimeout Duration `mapstructure:"idle_timeout"`
	// Windows are the windows of vnet.sli.value for indicators that set none.
	Windows []Duration `mapstructure:"windows"`
	// DryRun logs and counts what triggers would run without running it.
	DryRun bool `mapstructure:"dry_run"`

	Indicators []IndicatorConfig `mapstructure:"indicators"`
	Objectives []ObjectiveConfig `mapstructure:"objectives"`
	Triggers   []TriggerConfig   `mapstructure:"triggers"`
	// Actions names the actions triggers and objectives refer to. An
	// action named "log" of type log exists unless configured otherwise.
	Actions map[string]ActionConfig `mapstructure:"actions"`
	// ActionQueueSize bounds each action's queue of pending events.
	ActionQueueSize int `mapstructure:"action_queue_size"`
	// ActionTimeout bounds one run of an action unless it sets its own.
	ActionTimeout Duration `mapstructure:"action_timeout"`
	// AllowExec lets exec actions be configured; they are refused without it.
	AllowExec bool `mapstructure:"allow_exec"`
	// Audit writes one fsync'd JSON line per action run.
	Audit action.AuditConfig `mapstructure:"audit"`

	registry *action.Registry
}

// IndicatorConfig defines one SLI. Exactly one of Ratio, Rate, Quantile
// and Gauge is set.
type IndicatorConfig struct {
	Name     string          `mapstructure:"name"`
	Ratio    *RatioConfig    `mapstructure:"ratio"`
	Rate     *RateConfig     `mapstructure:"rate"`
	Quantile *QuantileConfig `mapstructure:"quantile"`
	Gauge    *GaugeConfig    `mapstructure:"gauge"`
	// Where keeps points whose attribute (data point, then resource)
	// equals the value in its string form. A point that lacks the
	// attribute is kept: in a ratio, one metric may not carry it.
	Where map[string]string `mapstructure:"where"`
	// GroupBy are the attributes (data point, then resource) that make a
	// group; a point missing one is refused and counted.
	GroupBy []string `mapstructure:"group_by"`
	// Windows of vnet.sli.value; the processor-wide windows when empty.
	Windows []Duration `mapstructure:"windows"`
}

// RatioConfig is bad events over total events, both from monotonic sums.
type RatioConfig struct {
	Bad   []string `mapstructure:"bad"`
	Total []string `mapstructure:"total"`
}

// RateConfig is the per-second rate of monotonic sums.
type RateConfig struct {
	Metric []string `mapstructure:"metric"`
}

// QuantileConfig is the Q-quantile over a window of an explicit or
// exponential histogram.
type QuantileConfig struct {
	Histogram string  `mapstructure:"histogram"`
	Q         float64 `mapstructure:"q"`
}

// GaugeConfig aggregates gauge samples (or cumulative non-monotonic sums,
// which report a level too) over a window.
type GaugeConfig struct {
	Metric string `mapstructure:"metric"`
	// Aggregation over the window's samples: avg, min or max.
	Aggregation string `mapstructure:"aggregation"`
}

// ObjectiveConfig is an SLO on a ratio indicator.
type ObjectiveConfig struct {
	Indicator string `mapstructure:"indicator"`
	// Target is the share of good events, in (0, 1).
	Target float64  `mapstructure:"target"`
	Period Duration `mapstructure:"period"`
	// BurnRateAlerts default to the SRE workbook's pairs scaled to Period.
	BurnRateAlerts []BurnRateAlertConfig `mapstructure:"burn_rate_alerts"`
	// Actions run when a burn-rate alert starts and stops firing.
	Actions []string `mapstructure:"actions"`
}

// BurnRateAlertConfig alerts while both windows burn faster than Factor.
type BurnRateAlertConfig struct {
	Long   Duration `mapstructure:"long"`
	Short  Duration `mapstructure:"short"`
	Factor float64  `mapstructure:"factor"`
}

// TriggerConfig watches one indicator's window per group.
type TriggerConfig struct {
	Name      string   `mapstructure:"name"`
	Indicator string   `mapstructure:"indicator"`
	Window    Duration `mapstructure:"window"`
	// Above or Below (exactly one) is the breach threshold; Below is for
	// indicators where lower is worse.
	Above *float64 `mapstructure:"above"`
	Below *float64 `mapstructure:"below"`
	// For is the number of consecutive breaching evaluations to fire.
	For int `mapstructure:"for"`
	// RecoverBelow (with Above) or RecoverAbove (with Below) is the
	// hysteresis threshold; it defaults to the breach threshold.
	RecoverBelow *float64 `mapstructure:"recover_below"`
	RecoverAbove *float64 `mapstructure:"recover_above"`
	// RecoverFor is how long the value must stay healthy to resolve.
	RecoverFor Duration `mapstructure:"recover_for"`
	// Cooldown is the least time between two runs of the actions for one group.
	Cooldown Duration `mapstructure:"cooldown"`
	Actions  []string `mapstructure:"actions"`
	DryRun   bool     `mapstructure:"dry_run"`
}

// ActionConfig is one named action: its type and the type's settings.
type ActionConfig struct {
	Type string `mapstructure:"type"`
	// Timeout bounds one run; the processor's action_timeout when 0.
	Timeout  Duration       `mapstructure:"timeout"`
	Settings map[string]any `mapstructure:",remain"`
}

// Duration is a time.Duration that also reads days and weeks ("30d").
type Duration time.Duration

// UnmarshalText parses "1s", "1h30m", "30d".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := duration.Parse(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the compact form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Duration) String() string { return duration.Format(time.Duration(d)) }

// D converts to time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Unmarshal reads the configuration and fills the defaults of list
// elements, which the default configuration cannot carry.
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	if err := conf.Unmarshal(c); err != nil {
		return err
	}
	for i := range c.Indicators {
		if g := c.Indicators[i].Gauge; g != nil && g.Aggregation == "" {
			g.Aggregation = "avg"
		}
	}
	for i := range c.Objectives {
		if c.Objectives[i].Period == 0 {
			c.Objectives[i].Period = Duration(defaultPeriod)
		}
	}
	for i := range c.Triggers {
		if c.Triggers[i].For == 0 {
			c.Triggers[i].For = 1
		}
	}
	return nil
}

// defaultPeriod is the SLO period when none is set, the SRE workbook's.
const defaultPeriod = 30 * duration.Day

// maxActionQueueSize bounds the queues, which are allocated at start.
const maxActionQueueSize = 1 << 16

// minEvaluationInterval keeps the evaluation loop from spinning.
const minEvaluationInterval = 10 * time.Millisecond

// actionRegistry is the factory's registry; a Config built by hand gets
// the built-in types.
func (c *Config) actionRegistry() *action.Registry {
	if c.registry == nil {
		c.registry = newRegistry()
	}
	return c.registry
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// Validate checks the configuration as a whole: cross references by name,
// window arithmetic and thresholds. Every error names its field.
func (c *Config) Validate() error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	eval := c.EvaluationInterval.D()
	if eval < minEvaluationInterval {
		fail("evaluation_interval: must be at least %v, got %v", Duration(minEvaluationInterval), c.EvaluationInterval)
		return errors.Join(errs...) // every window check depends on it
	}
	if e := c.EmitInterval.D(); e < 0 || e%eval != 0 {
		fail("emit_interval: %v is not a multiple of evaluation_interval %v", c.EmitInterval, c.EvaluationInterval)
	}
	if c.MaxSeries < 1 {
		fail("max_series: must be at least 1, got %d", c.MaxSeries)
	}
	if c.MaxStreams < 0 {
		fail("max_streams: must not be negative, got %d", c.MaxStreams)
	}
	if c.ActionQueueSize < 1 || c.ActionQueueSize > maxActionQueueSize {
		fail("action_queue_size: must be in [1, %d], got %d", maxActionQueueSize, c.ActionQueueSize)
	}
	if c.ActionTimeout.D() <= 0 {
		fail("action_timeout: must be positive, got %v", c.ActionTimeout)
	}
	checkWindow := func(field string, w Duration) {
		switch {
		case w.D() < eval:
			fail("%s: window %v is shorter than evaluation_interval %v", field, w, c.EvaluationInterval)
		case w.D()%eval != 0:
			fail("%s: window %v is not a multiple of evaluation_interval %v", field, w, c.EvaluationInterval)
		}
	}
	for i, w := range c.Windows {
		checkWindow(fmt.Sprintf("windows[%d]", i), w)
	}

	kinds := map[string]string{} // indicator name -> kind
	var names []string
	for i := range c.Indicators {
		ind := &c.Indicators[i]
		field := fmt.Sprintf("indicators[%d]", i)
		kind, err := ind.validate(field)
		errs = append(errs, err...)
		switch {
		case !namePattern.MatchString(ind.Name):
			fail("%s.name: %q is not a valid name (letters, digits, and _ . : - after the first)", field, ind.Name)
		case kinds[ind.Name] != "":
			fail("%s.name: indicator %q defined twice", field, ind.Name)
		default:
			kinds[ind.Name] = kind
			names = append(names, ind.Name)
		}
		for j, w := range ind.Windows {
			checkWindow(fmt.Sprintf("%s.windows[%d]", field, j), w)
		}
	}
	unknownIndicator := func(field, name string) bool {
		if _, ok := kinds[name]; ok {
			return false
		}
		fail("%s: unknown indicator %q; defined: %s", field, name, list(names))
		return true
	}

	actionNames := c.actionNames()
	checkActions := func(field string, refs []string) {
		for j, a := range refs {
			if !slices.Contains(actionNames, a) {
				fail("%s[%d]: unknown action %q; defined: %s", field, j, a, list(actionNames))
			}
		}
	}

	for i := range c.Objectives {
		o := &c.Objectives[i]
		field := fmt.Sprintf("objectives[%d]", i)
		if !unknownIndicator(field+".indicator", o.Indicator) && kinds[o.Indicator] != kindRatio {
			fail("%s.indicator: %q is a %s indicator; objectives need a ratio indicator", field, o.Indicator, kinds[o.Indicator])
		}
		if !(o.Target > 0 && o.Target < 1) {
			fail("%s.target: %v is outside (0, 1)", field, o.Target)
		}
		checkWindow(field+".period", o.Period)
		for j, a := range o.BurnRateAlerts {
			af := fmt.Sprintf("%s.burn_rate_alerts[%d]", field, j)
			checkWindow(af+".long", a.Long)
			checkWindow(af+".short", a.Short)
			if a.Short >= a.Long {
				fail("%s.short: %v is not shorter than long %v", af, a.Short, a.Long)
			}
			if a.Long > o.Period {
				fail("%s.long: %v is longer than the period %v", af, a.Long, o.Period)
			}
			if !(a.Factor > 0) || math.IsInf(a.Factor, 0) {
				fail("%s.factor: must be a positive number, got %v", af, a.Factor)
			}
		}
		checkActions(field+".actions", o.Actions)
	}

	triggers := map[string]bool{}
	for i := range c.Triggers {
		t := &c.Triggers[i]
		field := fmt.Sprintf("triggers[%d]", i)
		switch {
		case !namePattern.MatchString(t.Name):
			fail("%s.name: %q is not a valid name (letters, digits, and _ . : - after the first)", field, t.Name)
		case triggers[t.Name]:
			fail("%s.name: trigger %q defined twice", field, t.Name)
		}
		triggers[t.Name] = true
		unknownIndicator(field+".indicator", t.Indicator)
		if t.Window != 0 {
			checkWindow(field+".window", t.Window)
		}
		errs = append(errs, t.validateThresholds(field)...)
		if t.For < 0 {
			fail("%s.for: must be at least 1 evaluation, got %d", field, t.For)
		}
		if t.RecoverFor < 0 {
			fail("%s.recover_for: must not be negative, got %v", field, t.RecoverFor)
		}
		if t.Cooldown < 0 {
			fail("%s.cooldown: must not be negative, got %v", field, t.Cooldown)
		}
		checkActions(field+".actions", t.Actions)
	}
	if err := c.Audit.Validate("audit"); err != nil {
		errs = append(errs, err)
	}
	if it := c.IdleTimeout.D(); it != 0 {
		if lw := c.longestTriggerWindow(); it <= 3*lw {
			fail("idle_timeout: %v must exceed 3 x the longest trigger window %v, or groups expire before no_data", c.IdleTimeout, Duration(lw))
		}
	}

	registry := c.actionRegistry()
	types := registry.Types()
	for _, name := range slices.Sorted(maps.Keys(c.Actions)) {
		a := c.Actions[name]
		field := fmt.Sprintf("actions.%s", name)
		if !namePattern.MatchString(name) {
			fail("%s: %q is not a valid action name", field, name)
		}
		f, ok := registry.Factory(a.Type)
		if !ok {
			fail("%s.type: unknown action type %q; allowed: %s", field, a.Type, list(types))
			continue
		}
		if a.Timeout < 0 {
			fail("%s.timeout: must not be negative, got %v", field, a.Timeout)
		}
		if a.Type == action.ExecType && !c.AllowExec {
			fail("%s.type: exec actions need allow_exec: true on the processor", field)
		}
		if err := f.Validate(a.Settings); err != nil {
			fail("%s: %w", field, err)
		}
	}
	return errors.Join(errs...)
}

const (
	kindRatio    = "ratio"
	kindRate     = "rate"
	kindQuantile = "quantile"
	kindGauge    = "gauge"
)

var aggregations = []string{"avg", "min", "max"}

func (ind *IndicatorConfig) validate(field string) (kind string, errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var set []string
	if ind.Ratio != nil {
		set = append(set, kindRatio)
		kind = kindRatio
		checkMetrics(field+".ratio.bad", ind.Ratio.Bad, fail)
		checkMetrics(field+".ratio.total", ind.Ratio.Total, fail)
	}
	if ind.Rate != nil {
		set = append(set, kindRate)
		kind = kindRate
		checkMetrics(field+".rate.metric", ind.Rate.Metric, fail)
	}
	if ind.Quantile != nil {
		set = append(set, kindQuantile)
		kind = kindQuantile
		if ind.Quantile.Histogram == "" {
			fail("%s.quantile.histogram: a histogram metric name is required", field)
		}
		if q := ind.Quantile.Q; !(q > 0 && q < 1) {
			fail("%s.quantile.q: %v is outside (0, 1)", field, q)
		}
	}
	if ind.Gauge != nil {
		set = append(set, kindGauge)
		kind = kindGauge
		if ind.Gauge.Metric == "" {
			fail("%s.gauge.metric: a metric name is required", field)
		}
		if !slices.Contains(aggregations, ind.Gauge.Aggregation) {
			fail("%s.gauge.aggregation: unknown aggregation %q; allowed: %s", field, ind.Gauge.Aggregation, list(aggregations))
		}
	}
	if len(set) != 1 {
		fail("%s: exactly one of ratio, rate, quantile, gauge must be set, got %s", field, list(set))
		if len(set) == 0 {
			kind = "undefined"
		}
	}
	seen := map[string]bool{}
	for j, k := range ind.GroupBy {
		switch {
		case k == "":
			fail("%s.group_by[%d]: empty attribute name", field, j)
		case seen[k]:
			fail("%s.group_by[%d]: attribute %q listed twice", field, j, k)
		}
		seen[k] = true
	}
	for k := range ind.Where {
		if k == "" {
			fail("%s.where: empty attribute name", field)
		}
	}
	return kind, errs
}

func checkMetrics(field string, metrics []string, fail func(string, ...any)) {
	if len(metrics) == 0 {
		fail("%s: at least one metric name is required", field)
	}
	for j, m := range metrics {
		if m == "" {
			fail("%s[%d]: empty metric name", field, j)
		}
	}
}

func (t *TriggerConfig) validateThresholds(field string) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	finite := func(name string, v *float64) {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			fail("%s.%s: must be a finite number, got %v", field, name, *v)
		}
	}
	finite("above", t.Above)
	finite("below", t.Below)
	finite("recover_below", t.RecoverBelow)
	finite("recover_above", t.RecoverAbove)
	switch {
	case t.Above == nil && t.Below == nil:
		fail("%s: one of above, below is required", field)
	case t.Above != nil && t.Below != nil:
		fail("%s: above and below are exclusive; set one", field)
	case t.Above != nil:
		if t.RecoverAbove != nil {
			fail("%s.recover_above: goes with below; use recover_below with above", field)
		}
		if t.RecoverBelow != nil && *t.RecoverBelow > *t.Above {
			fail("%s.recover_below: %v is above `above` %v; recovery must not need a higher value than firing", field, *t.RecoverBelow, *t.Above)
		}
	default:
		if t.RecoverBelow != nil {
			fail("%s.recover_below: goes with above; use recover_above with below", field)
		}
		if t.RecoverAbove != nil && *t.RecoverAbove < *t.Below {
			fail("%s.recover_above: %v is below `below` %v; recovery must not need a lower value than firing", field, *t.RecoverAbove, *t.Below)
		}
	}
	return errs
}

// actionNames lists the names triggers may use: the configured ones and
// the built-in log action.
func (c *Config) actionNames() []string {
	names := slices.Sorted(maps.Keys(c.Actions))
	if _, ok := c.Actions[action.LogType]; !ok {
		names = append(names, action.LogType)
		slices.Sort(names)
	}
	return names
}

func (c *Config) longestTriggerWindow() time.Duration {
	var lw time.Duration
	for i := range c.Triggers {
		lw = max(lw, c.triggerWindow(&c.Triggers[i]))
	}
	return lw
}

// triggerWindow is the trigger's window, the evaluation interval when unset.
func (c *Config) triggerWindow(t *TriggerConfig) time.Duration {
	if t.Window == 0 {
		return c.EvaluationInterval.D()
	}
	return t.Window.D()
}

// idleTimeout resolves the 0 default.
func (c *Config) idleTimeout() time.Duration {
	if c.IdleTimeout != 0 {
		return c.IdleTimeout.D()
	}
	return max(5*time.Minute, 4*c.longestTriggerWindow())
}

func (c *Config) maxStreams() int {
	if c.MaxStreams != 0 {
		return c.MaxStreams
	}
	return 5 * c.MaxSeries
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
