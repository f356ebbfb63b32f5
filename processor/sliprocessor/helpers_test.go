package sliprocessor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"

	"github.com/vnetpath/vnetpath/internal/sli/clock"
	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadatatest"
)

// t0 is when every test processor starts.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// boot is the start time of the test counters: before t0, so a stream's
// first point is a baseline.
var boot = t0.Add(-time.Hour)

// harness runs a processor on a fake clock with a sink for its output.
type harness struct {
	t         *testing.T
	clk       *clock.Fake
	p         *sliProcessor
	out       *sink
	tel       *componenttest.Telemetry
	logs      *observer.ObservedLogs
	evaluated chan struct{}
	manual    bool // no loop: tick evaluates on the test's goroutine
	stopOnce  sync.Once
}

// sink keeps every batch of derived metrics.
type sink struct {
	mu      sync.Mutex
	batches []pmetric.Metrics
}

func (*sink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *sink) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, md)
	return nil
}

func (s *sink) all() []pmetric.Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pmetric.Metrics(nil), s.batches...)
}

// loadConfig reads a YAML configuration over the defaults and validates it.
func loadConfig(t testing.TB, text string) *Config {
	t.Helper()
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &raw))
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	require.NoError(t, cfg.Validate())
	return cfg
}

func newHarness(t *testing.T, cfgText string) *harness {
	t.Helper()
	return newHarnessConfig(t, loadConfig(t, cfgText))
}

// newManualHarness builds a processor that is not started: no loop and no
// action workers, evaluations run on the test's goroutine. Long runs of
// ticks are cheaper this way.
func newManualHarness(t *testing.T, cfgText string) *harness {
	t.Helper()
	return build(t, loadConfig(t, cfgText), true)
}

func newHarnessConfig(t *testing.T, cfg *Config) *harness {
	t.Helper()
	return build(t, cfg, false)
}

func build(t *testing.T, cfg *Config, manual bool) *harness {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	tel := componenttest.NewTelemetry()
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)
	h := &harness{t: t, clk: clock.NewFake(t0), out: &sink{}, tel: tel, logs: logs, evaluated: make(chan struct{}), manual: manual}
	p, err := newProcessor(set, cfg, h.out, h.clk)
	require.NoError(t, err)
	h.p = p
	if !manual {
		p.evaluated = func() { h.evaluated <- struct{}{} }
		require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	}
	t.Cleanup(func() {
		h.stop()
		require.NoError(t, tel.Shutdown(context.Background()))
	})
	return h
}

// stop shuts the processor down once; queued actions have run after it.
func (h *harness) stop() {
	h.stopOnce.Do(func() { require.NoError(h.t, h.p.Shutdown(context.Background())) })
}

// consume feeds a batch and checks it passed through unchanged.
func (h *harness) consume(md pmetric.Metrics) {
	h.t.Helper()
	var m pmetric.ProtoMarshaler // bytes compare NaN values too
	before, err := m.MarshalMetrics(md)
	require.NoError(h.t, err)
	out, err := h.p.processMetrics(context.Background(), md)
	require.NoError(h.t, err)
	after, err := m.MarshalMetrics(out)
	require.NoError(h.t, err)
	require.Equal(h.t, before, after, "input must pass through unchanged")
}

// tick advances the clock by n evaluation intervals, waiting for each
// evaluation to finish.
func (h *harness) tick(n int) {
	for range n {
		h.clk.Advance(h.p.eval)
		if h.manual {
			h.p.evaluate(context.Background())
			continue
		}
		<-h.evaluated
	}
}

// last returns the latest batch of derived metrics.
func (h *harness) last() pmetric.Metrics {
	all := h.out.all()
	require.NotEmpty(h.t, all, "no derived metrics emitted")
	return all[len(all)-1]
}

// now is the fake clock's time.
func (h *harness) now() time.Time { return h.clk.Now() }

// point describes one input data point.
type point struct {
	attrs map[string]any
	start time.Time
	ts    time.Time
	value float64
}

func putAttrs(m pcommon.Map, attrs map[string]any) {
	if err := m.FromRaw(attrs); err != nil {
		panic(err)
	}
}

// sums builds one cumulative monotonic sum metric.
func sums(name string, pts ...point) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, p := range pts {
		dp := s.DataPoints().AppendEmpty()
		putAttrs(dp.Attributes(), p.attrs)
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(p.start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(p.ts))
		dp.SetDoubleValue(p.value)
	}
	return md
}

// merge appends the resource metrics of more into md.
func merge(md pmetric.Metrics, more ...pmetric.Metrics) pmetric.Metrics {
	for _, m := range more {
		m.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	}
	return md
}

// gaugeValue finds the derived point of a metric whose attributes include
// want, or fails.
func gaugeValue(t testing.TB, md pmetric.Metrics, name string, want map[string]any) pmetric.NumberDataPoint {
	t.Helper()
	dp, ok := findPoint(md, name, want)
	require.True(t, ok, "no %s point with %v", name, want)
	return dp
}

func findPoint(md pmetric.Metrics, name string, want map[string]any) (pmetric.NumberDataPoint, bool) {
next:
	for _, dp := range gaugePoints(md, name) {
		for key, v := range want {
			got, ok := dp.Attributes().Get(key)
			if !ok || got.AsRaw() != v {
				continue next
			}
		}
		return dp, true
	}
	return pmetric.NumberDataPoint{}, false
}

// countPoints counts the derived points of a metric.
func countPoints(md pmetric.Metrics, name string) int { return len(gaugePoints(md, name)) }

// gaugePoints lists the points of every gauge of that name in md.
func gaugePoints(md pmetric.Metrics, name string) []pmetric.NumberDataPoint {
	var out []pmetric.NumberDataPoint
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != name {
					continue
				}
				for _, dp := range m.Gauge().DataPoints().All() {
					out = append(out, dp)
				}
			}
		}
	}
	return out
}
