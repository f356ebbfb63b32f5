package sliprocessor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/vnetpath/vnetpath/internal/action"
	"github.com/vnetpath/vnetpath/internal/sli/clock"
	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadata"
)

// sliProcessor passes metrics through unchanged while it extracts the
// indicators' points; a goroutine evaluates every evaluation_interval and
// emits the derived metrics in a batch of its own, so SLIs are computed
// and no_data is seen even when no input arrives.
type sliProcessor struct {
	logger    *zap.Logger
	cfg       *Config
	clock     clock.Clock
	next      consumer.Metrics
	telemetry *metadata.TelemetryBuilder
	executor  *action.Executor
	audit     *action.Audit
	// actionTypes maps action names to types, for counting held events.
	actionTypes  map[string]string
	remediations *remediations

	eval       time.Duration
	emitEvery  int64 // intervals per emission, at least 1
	idleTicks  int64
	maxSeries  int
	maxStreams int

	// mu is the single owner of the state below. ConsumeMetrics runs on
	// the pipeline's goroutines and must not keep the batch (it goes on
	// downstream), so it extracts points under the lock; handing points
	// to an owner goroutine would cost a copy or a channel send per point
	// instead of one uncontended lock per batch. The evaluation takes the
	// lock once per interval, for time linear in the groups.
	mu         sync.Mutex
	indicators []*indicator
	byMetric   map[string][]subscription
	hash       hasher
	epoch      time.Time         // start of interval 0
	since      pcommon.Timestamp // counters started after this count from zero
	closed     int64             // last closed interval
	emitted    int64             // emit_interval periods emitted
	series     int
	streams    int
	keyBuf     []byte
	scratch    []float64
	burn       []float64 // burn rate per layout, one objective at a time

	overflowSeries, overflowStreams int64
	expiredSeries, expiredStreams   int64

	cancel    context.CancelFunc
	done      chan struct{}
	evaluated func() // test hook: called after each evaluation
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Metrics, clk clock.Clock) (*sliProcessor, error) {
	indicators, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("sli telemetry: %w", err)
	}
	p := &sliProcessor{
		logger:     set.Logger,
		cfg:        cfg,
		clock:      clk,
		next:       next,
		telemetry:  tb,
		eval:       cfg.EvaluationInterval.D(),
		emitEvery:  max(1, int64(cfg.EmitInterval.D()/cfg.EvaluationInterval.D())),
		idleTicks:  int64(cfg.idleTimeout() / cfg.EvaluationInterval.D()),
		maxSeries:  cfg.MaxSeries,
		maxStreams: cfg.maxStreams(),
		indicators: indicators,
		byMetric:   map[string][]subscription{},
		hash:       newHasher(),
		closed:     -1,
	}
	p.resetEpoch()
	layouts := 0
	for _, ind := range indicators {
		for name, r := range ind.metrics {
			p.byMetric[name] = append(p.byMetric[name], subscription{ind: ind, role: r})
		}
		layouts = max(layouts, len(ind.layouts))
	}
	p.burn = make([]float64, layouts)
	p.remediations = newRemediations(cfg.MaxSeries, cfg.idleTimeout())
	actions, err := p.bindActions(set)
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	p.actionTypes = make(map[string]string, len(actions))
	for _, b := range actions {
		p.actionTypes[b.Name] = b.Type
	}
	p.executor = action.NewExecutor(actions, action.ExecutorSettings{
		QueueSize: cfg.ActionQueueSize, Observe: p.observeAction, Logger: set.Logger,
	})
	return p, nil
}

// bindActions creates every configured action and the built-in log
// action when none is named log.
func (p *sliProcessor) bindActions(set processor.Settings) ([]action.Bound, error) {
	registry := p.cfg.actionRegistry()
	cfgs := map[string]ActionConfig{action.LogType: {Type: action.LogType}}
	for name, a := range p.cfg.Actions {
		cfgs[name] = a
	}
	out := make([]action.Bound, 0, len(cfgs))
	for _, name := range slices.Sorted(maps.Keys(cfgs)) {
		a := cfgs[name]
		f, ok := registry.Factory(a.Type)
		if !ok {
			return nil, fmt.Errorf("actions.%s.type: unknown action type %q", name, a.Type)
		}
		act, err := f.Create(action.Settings{
			Name: name, Logger: set.Logger, Telemetry: set.TelemetrySettings,
			Clock: p.clock, AllowExec: p.cfg.AllowExec,
		}, a.Settings)
		if err != nil {
			return nil, fmt.Errorf("actions.%s: %w", name, err)
		}
		timeout := a.Timeout.D()
		if timeout == 0 {
			timeout = p.cfg.ActionTimeout.D()
		}
		out = append(out, action.Bound{Name: name, Type: a.Type, Action: act, Timeout: timeout})
	}
	return out, nil
}

func (p *sliProcessor) resetEpoch() {
	p.epoch = p.clock.Now()
	p.since = pcommon.NewTimestampFromTime(p.epoch)
}

// Start opens the audit file, starts the action workers and begins the
// evaluation loop.
func (p *sliProcessor) Start(ctx context.Context, host component.Host) error {
	p.mu.Lock()
	p.resetEpoch()
	p.mu.Unlock()
	if p.cfg.Audit.Path != "" {
		a, err := action.OpenAudit(p.cfg.Audit)
		if err != nil {
			return fmt.Errorf("sli audit: %w", err)
		}
		p.audit = a
	}
	if err := p.executor.Start(ctx, host, p.audit); err != nil {
		return fmt.Errorf("sli actions: %w", err)
	}
	loop, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	ticker := p.clock.NewTicker(p.eval)
	go func() {
		defer close(p.done)
		defer ticker.Stop()
		for {
			select {
			case <-loop.Done():
				return
			case <-ticker.C():
				p.evaluate(loop)
			}
		}
	}()
	return nil
}

// Shutdown stops the loop, then lets queued actions finish within ctx.
func (p *sliProcessor) Shutdown(ctx context.Context) error {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	err := p.executor.Shutdown(ctx)
	if p.audit != nil {
		err = errors.Join(err, p.audit.Close())
	}
	p.telemetry.Shutdown()
	return err
}

// processMetrics feeds the indicators and passes the batch on unchanged.
func (p *sliProcessor) processMetrics(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if len(p.indicators) > 0 {
		p.mu.Lock()
		p.ingest(md)
		p.mu.Unlock()
	}
	return md, nil
}
