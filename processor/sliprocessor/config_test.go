package sliprocessor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"gopkg.in/yaml.v3"

	"github.com/vnetpath/vnetpath/internal/sli/clock"
	"github.com/vnetpath/vnetpath/internal/sli/duration"
	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadata"
)

func f64(v float64) *float64 { return &v }

func d(v time.Duration) Duration { return Duration(v) }

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	factory := NewFactory()

	issue := factory.CreateDefaultConfig().(*Config)
	issue.Indicators = []IndicatorConfig{
		{
			Name:    "tap_drop_ratio",
			Ratio:   &RatioConfig{Bad: []string{"vnet.packet.drops"}, Total: []string{"vnet.interface.packets", "vnet.packet.drops"}},
			Where:   map[string]string{"network.io.direction": "transmit"},
			GroupBy: []string{"vm.name", "network.interface.name"},
		},
		{Name: "irq_rate", Rate: &RateConfig{Metric: []string{"vnet.kvm.interrupts"}}, GroupBy: []string{"vm.name"}},
		{
			Name:     "ring_p99",
			Quantile: &QuantileConfig{Histogram: "vnet.tap.ring.residence", Q: 0.99},
			GroupBy:  []string{"vm.name", "network.interface.name"},
		},
	}
	issue.Objectives = []ObjectiveConfig{{
		Indicator: "tap_drop_ratio",
		Target:    0.9999,
		Period:    d(30 * duration.Day),
		BurnRateAlerts: []BurnRateAlertConfig{
			{Long: d(time.Hour), Short: d(5 * time.Minute), Factor: 14.4},
			{Long: d(6 * time.Hour), Short: d(30 * time.Minute), Factor: 6},
		},
	}}
	issue.Triggers = []TriggerConfig{{
		Name:         "ring-overflow",
		Indicator:    "tap_drop_ratio",
		Window:       d(time.Second),
		Above:        f64(0.001),
		For:          3,
		RecoverBelow: f64(0.0006),
		RecoverFor:   d(time.Second),
		Cooldown:     d(30 * time.Second),
		Actions:      []string{"log"},
	}}

	full := factory.CreateDefaultConfig().(*Config)
	full.EvaluationInterval = d(5 * time.Second)
	full.EmitInterval = d(30 * time.Second)
	full.MaxSeries = 500
	full.MaxStreams = 2000
	full.IdleTimeout = d(10 * time.Minute)
	full.Windows = []Duration{d(5 * time.Second), d(time.Minute)}
	full.DryRun = true
	full.ActionQueueSize = 4
	full.ActionTimeout = d(2 * time.Second)
	full.Actions = map[string]ActionConfig{"audit": {Type: "log", Timeout: d(time.Second), Settings: map[string]any{"level": "warn"}}}
	full.Indicators = []IndicatorConfig{
		{
			Name:    "tap_drop_ratio",
			Ratio:   &RatioConfig{Bad: []string{"vnet.packet.drops"}, Total: []string{"vnet.interface.packets", "vnet.packet.drops"}},
			GroupBy: []string{"vm.name"},
		},
		{
			Name:    "tx_queue_fill",
			Gauge:   &GaugeConfig{Metric: "vnet.tap.queue.length", Aggregation: "avg"},
			GroupBy: []string{"vm.name"},
			Windows: []Duration{d(time.Minute)},
		},
		{Name: "tx_queue_peak", Gauge: &GaugeConfig{Metric: "vnet.tap.queue.length", Aggregation: "max"}, GroupBy: []string{"vm.name"}},
	}
	full.Objectives = []ObjectiveConfig{{Indicator: "tap_drop_ratio", Target: 0.999, Period: d(30 * duration.Day)}}
	full.Triggers = []TriggerConfig{{
		Name: "queue-empty", Indicator: "tx_queue_fill", Below: f64(1), RecoverAbove: f64(2), For: 1,
		Actions: []string{"audit", "log"}, DryRun: true,
	}}

	tests := []struct {
		id   component.ID
		want *Config
	}{
		{component.NewID(metadata.Type), factory.CreateDefaultConfig().(*Config)},
		{component.NewIDWithName(metadata.Type, "issue"), issue},
		{component.NewIDWithName(metadata.Type, "full"), full},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := factory.CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, cfg.(*Config).Validate())
			assert.Equal(t, tt.want, cfg)
		})
	}
}

// A valid base that the bad configurations below change.
const base = `
indicators:
  - name: tap_drop_ratio
    ratio: {bad: vnet.packet.drops, total: [vnet.interface.packets, vnet.packet.drops]}
    group_by: [vm.name]
  - name: irq_rate
    rate: {metric: vnet.kvm.interrupts}
    group_by: [vm.name]
`

func TestConfigRefused(t *testing.T) {
	tests := []struct {
		name, yaml, err string
	}{
		{
			name: "unknown indicator in a trigger",
			yaml: base + `
triggers:
  - {name: t, indicator: foo, above: 1}`,
			err: `triggers[0].indicator: unknown indicator "foo"; defined: tap_drop_ratio, irq_rate`,
		},
		{
			name: "unknown indicator in an objective",
			yaml: base + `
objectives:
  - {indicator: bar, target: 0.99}`,
			err: `objectives[0].indicator: unknown indicator "bar"; defined: tap_drop_ratio, irq_rate`,
		},
		{
			name: "objective on a rate",
			yaml: base + `
objectives:
  - {indicator: irq_rate, target: 0.99}`,
			err: `objectives[0].indicator: "irq_rate" is a rate indicator; objectives need a ratio indicator`,
		},
		{
			name: "window shorter than evaluation_interval",
			yaml: base + `
evaluation_interval: 10s
triggers:
  - {name: t, indicator: irq_rate, window: 1s, above: 1}`,
			err: "triggers[0].window: window 1s is shorter than evaluation_interval 10s",
		},
		{
			name: "window not a multiple",
			yaml: base + `
windows: [1500ms]`,
			err: "windows[0]: window 1.5s is not a multiple of evaluation_interval 1s",
		},
		{
			name: "recover_below above above",
			yaml: base + `
triggers:
  - {name: t, indicator: tap_drop_ratio, above: 0.001, recover_below: 0.002}`,
			err: "triggers[0].recover_below: 0.002 is above `above` 0.001; recovery must not need a higher value than firing",
		},
		{
			name: "recover_above below below",
			yaml: base + `
triggers:
  - {name: t, indicator: irq_rate, below: 10, recover_above: 5}`,
			err: "triggers[0].recover_above: 5 is below `below` 10; recovery must not need a lower value than firing",
		},
		{
			name: "q outside (0,1)",
			yaml: `
indicators:
  - {name: p, quantile: {histogram: h, q: 1}}`,
			err: "indicators[0].quantile.q: 1 is outside (0, 1)",
		},
		{
			name: "q missing",
			yaml: `
indicators:
  - {name: p, quantile: {histogram: h}}`,
			err: "indicators[0].quantile.q: 0 is outside (0, 1)",
		},
		{
			name: "target outside (0,1)",
			yaml: base + `
objectives:
  - {indicator: tap_drop_ratio, target: 99.9}`,
			err: "objectives[0].target: 99.9 is outside (0, 1)",
		},
		{
			name: "two kinds",
			yaml: `
indicators:
  - {name: x, rate: {metric: a}, gauge: {metric: b}}`,
			err: "indicators[0]: exactly one of ratio, rate, quantile, gauge must be set, got rate, gauge",
		},
		{
			name: "no kind",
			yaml: `
indicators:
  - {name: x}`,
			err: "indicators[0]: exactly one of ratio, rate, quantile, gauge must be set, got none",
		},
		{
			name: "unknown aggregation",
			yaml: `
indicators:
  - {name: x, gauge: {metric: a, aggregation: p50}}`,
			err: `indicators[0].gauge.aggregation: unknown aggregation "p50"; allowed: avg, min, max`,
		},
		{
			name: "ratio without total",
			yaml: `
indicators:
  - {name: x, ratio: {bad: a}}`,
			err: "indicators[0].ratio.total: at least one metric name is required",
		},
		{
			name: "duplicate names",
			yaml: base + `
  - {name: irq_rate, rate: {metric: x}}
triggers:
  - {name: t, indicator: irq_rate, above: 1}
  - {name: t, indicator: irq_rate, above: 1}`,
			err: "indicators[2].name: indicator \"irq_rate\" defined twice\n" +
				`triggers[1].name: trigger "t" defined twice`,
		},
		{
			name: "duplicate group_by",
			yaml: `
indicators:
  - {name: x, rate: {metric: a}, group_by: [vm.name, vm.name]}`,
			err: `indicators[0].group_by[1]: attribute "vm.name" listed twice`,
		},
		{
			name: "no threshold",
			yaml: base + `
triggers:
  - {name: t, indicator: irq_rate}`,
			err: "triggers[0]: one of above, below is required",
		},
		{
			name: "both thresholds",
			yaml: base + `
triggers:
  - {name: t, indicator: irq_rate, above: 2, below: 1}`,
			err: "triggers[0]: above and below are exclusive; set one",
		},
		{
			name: "unknown action",
			yaml: base + `
triggers:
  - {name: t, indicator: irq_rate, above: 1, actions: [page]}`,
			err: `triggers[0].actions[0]: unknown action "page"; defined: log`,
		},
		{
			name: "unknown action type",
			yaml: base + `
actions:
  page: {type: pager}`,
			err: `actions.page.type: unknown action type "pager"; allowed: affinity, exec, log, qmp, signal, txqueuelen, webhook`,
		},
		{
			name: "exec without allow_exec",
			yaml: base + `
actions:
  hook: {type: exec, program: /usr/local/bin/fix-ring, args: ["{{network.interface.name}}"]}`,
			err: `actions.hook.type: exec actions need allow_exec: true on the processor`,
		},
		{
			name: "remediation settings",
			yaml: base + `
actions:
  grow: {type: txqueuelen, multiply: 4, max: 100000}
  kick: {type: signal, signal: SIGFOO}
  pin: {type: affinity, cpus: 3-1}
  page: {type: webhook, endpoint: "http://am:9093", format: slack}
  qemu: {type: qmp, command: set_link}`,
			err: "actions.grow: max: must be in [1, 65536], got 100000\n" +
				"actions.kick: signal: unknown signal \"SIGFOO\"; use a name such as SIGUSR1, SIGUSR2, SIGHUP\n" +
				"actions.page: format: unknown format \"slack\"; allowed: json, alertmanager\n" +
				"actions.pin: cpus: cpu list \"3-1\": range 3-1 is backwards\n" +
				"actions.qemu: one of socket, sockets is required",
		},
		{
			name: "audit file",
			yaml: base + `
audit: {path: actions.jsonl, max_bytes: 100, max_backups: -1}`,
			err: "audit.path: \"actions.jsonl\" must be absolute\n" +
				"audit.max_bytes: must be at least 4096, got 100\n" +
				"audit.max_backups: must be in [0, 100], got -1",
		},
		{
			name: "bad action settings",
			yaml: base + `
actions:
  audit: {type: log, level: loud}`,
			err: `actions.audit: level: unknown level "loud"; allowed: debug, info, warn, error`,
		},
		{
			name: "burn-rate pair backwards and too long",
			yaml: base + `
objectives:
  - indicator: tap_drop_ratio
    target: 0.999
    period: 7d
    burn_rate_alerts: [{long: 5m, short: 1h, factor: 14.4}, {long: 30d, short: 1h, factor: 0}]`,
			err: "objectives[0].burn_rate_alerts[0].short: 1h is not shorter than long 5m\n" +
				"objectives[0].burn_rate_alerts[1].long: 30d is longer than the period 7d\n" +
				"objectives[0].burn_rate_alerts[1].factor: must be a positive number, got 0",
		},
		{
			name: "idle_timeout too short for no_data",
			yaml: base + `
idle_timeout: 1m
triggers:
  - {name: t, indicator: irq_rate, window: 30s, above: 1}`,
			err: "idle_timeout: 1m must exceed 3 x the longest trigger window 30s, or groups expire before no_data",
		},
		{
			name: "limits",
			yaml: `
max_series: 0
max_streams: -1
emit_interval: 1500ms
action_queue_size: 0
action_timeout: 0s`,
			err: "emit_interval: 1.5s is not a multiple of evaluation_interval 1s\n" +
				"max_series: must be at least 1, got 0\n" +
				"max_streams: must not be negative, got -1\n" +
				"action_queue_size: must be in [1, 65536], got 0\n" +
				"action_timeout: must be positive, got 0s",
		},
		{
			name: "evaluation_interval zero",
			yaml: `evaluation_interval: 0s`,
			err:  "evaluation_interval: must be at least 10ms, got 0s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(tt.yaml), &raw))
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
			assert.EqualError(t, cfg.Validate(), tt.err)
		})
	}
}

func TestConfigDurationsReadDays(t *testing.T) {
	cfg := loadConfig(t, base+`
objectives:
  - {indicator: tap_drop_ratio, target: 0.999, period: 2w}`)
	assert.Equal(t, d(14*duration.Day), cfg.Objectives[0].Period)
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(`{windows: [1x]}`), &raw))
	err := confmap.NewFromStringMap(raw).Unmarshal(NewFactory().CreateDefaultConfig())
	assert.ErrorContains(t, err, `duration "1x"`)
}

func TestConfigDefaultsResolve(t *testing.T) {
	cfg := loadConfig(t, base+`
triggers:
  - {name: t, indicator: irq_rate, window: 2m, above: 1}`)
	assert.Equal(t, 1, cfg.Triggers[0].For)
	assert.Equal(t, 50000, cfg.maxStreams())
	assert.Equal(t, 8*time.Minute, cfg.idleTimeout(), "4 x the 2m trigger window beats 5m")
	cfg.Triggers = nil
	assert.Equal(t, 5*time.Minute, cfg.idleTimeout())
}

// A configuration that validates always builds a processor: Validate is
// the only gate before start.
func FuzzConfig(f *testing.F) {
	for _, seed := range []string{
		base,
		ringOverflowTrigger,
		benchConfig,
		"evaluation_interval: 5m\nindicators: [{name: r, ratio: {bad: e, total: q}}]\nobjectives: [{indicator: r, target: 0.999}]",
		"evaluation_interval: 7s\nwindows: [14s]\nindicators: [{name: r, ratio: {bad: e, total: q}}]\nobjectives: [{indicator: r, target: 0.5, period: 7d}]",
		"indicators: [{name: g, gauge: {metric: m, aggregation: max}, windows: [3s]}]\ntriggers: [{name: t, indicator: g, below: 1, recover_above: 2, for: 2}]",
		"indicators: [{name: p, quantile: {histogram: h, q: 0.5}}]\nactions: {a: {type: log, level: debug}}\ntriggers: [{name: t, indicator: p, above: 1, actions: [a]}]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var raw map[string]any
		if yaml.Unmarshal([]byte(text), &raw) != nil {
			return
		}
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		if confmap.NewFromStringMap(raw).Unmarshal(cfg) != nil || cfg.Validate() != nil {
			return
		}
		p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop(), clock.NewFake(t0))
		if err != nil {
			t.Fatalf("valid configuration refused at start: %v\n%s", err, text)
		}
		require.NoError(t, p.Shutdown(context.Background()))
	})
}

// deploy/host.yaml's sli section is valid, and safe: the processor and
// every action it names are in dry run.
func TestDeployHostConfigIsDryRun(t *testing.T) {
	b, err := os.ReadFile("../../deploy/host.yaml")
	require.NoError(t, err)
	var doc struct {
		Processors map[string]map[string]any `yaml:"processors"`
	}
	require.NoError(t, yaml.Unmarshal(b, &doc))
	section, ok := doc.Processors["sli"]
	require.True(t, ok, "deploy/host.yaml has no sli processor")
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(section).Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	assert.True(t, cfg.DryRun, "processor-wide dry_run")
	require.NotEmpty(t, cfg.Actions)
	for name, a := range cfg.Actions {
		assert.Equal(t, true, a.Settings["dry_run"], "actions.%s.dry_run", name)
	}
	// The actions can be created unprivileged, as the collector starts.
	h := newHarnessConfig(t, cfg)
	h.stop()
}
