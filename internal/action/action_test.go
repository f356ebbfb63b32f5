package action

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var testEvent = Event{
	Trigger:   "ring-overflow",
	Indicator: "tap_drop_ratio",
	Value:     0.002,
	Threshold: 0.001,
	Window:    time.Second,
	Group:     []Attribute{{"vm.name", "web-1"}, {"network.interface.name", "vnet3"}},
	State:     Firing,
	Time:      time.Unix(1_700_000_000, 0).UTC(),
}

func TestRegistry(t *testing.T) {
	r, err := NewRegistry(LogFactory{})
	require.NoError(t, err)
	assert.Equal(t, []string{"log"}, r.Types())
	_, ok := r.Factory("log")
	assert.True(t, ok)
	_, ok = r.Factory("webhook")
	assert.False(t, ok)
	_, err = NewRegistry(LogFactory{}, LogFactory{})
	assert.EqualError(t, err, `action type "log" registered twice`)
}

func TestLogAction(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	a, err := LogFactory{}.Create(Settings{Name: "audit", Logger: zap.New(core)}, map[string]any{"level": "warn"})
	require.NoError(t, err)
	_, err = a.Fire(context.Background(), testEvent)
	require.NoError(t, err)
	require.Equal(t, 1, logs.Len())
	entry := logs.All()[0]
	assert.Equal(t, zapcore.WarnLevel, entry.Level)
	assert.Equal(t, "sli trigger firing", entry.Message)
	fields := entry.ContextMap()
	assert.Equal(t, "audit", fields["action"])
	assert.Equal(t, "ring-overflow", fields["trigger"])
	assert.Equal(t, "tap_drop_ratio", fields["indicator"])
	assert.Equal(t, 0.002, fields["value"])
	assert.Equal(t, 0.001, fields["threshold"])
	assert.Equal(t, time.Second, fields["window"])
	assert.Equal(t, map[string]any{"vm.name": "web-1", "network.interface.name": "vnet3"}, fields["group"])
	assert.Equal(t, "firing", fields["state"])
	assert.Equal(t, testEvent.Time, fields["time"])
}

func TestLogSettingsRefused(t *testing.T) {
	assert.EqualError(t, LogFactory{}.Validate(map[string]any{"level": "loud"}),
		`level: unknown level "loud"; allowed: debug, info, warn, error`)
	assert.ErrorContains(t, LogFactory{}.Validate(map[string]any{"colour": "red"}), "colour")
	assert.NoError(t, LogFactory{}.Validate(nil))
}

// funcAction adapts a function.
type funcAction func(ctx context.Context, ev Event) error

func (f funcAction) Fire(ctx context.Context, ev Event) (Result, error) { return Result{}, f(ctx, ev) }

// outcomes records what the executor observed.
type outcomes struct {
	mu   sync.Mutex
	got  map[Outcome]int
	done chan Outcome
}

func newOutcomes() *outcomes {
	return &outcomes{got: map[Outcome]int{}, done: make(chan Outcome, 100)}
}

func (o *outcomes) observe(r *Report) {
	o.mu.Lock()
	o.got[r.Outcome]++
	o.mu.Unlock()
	o.done <- r.Outcome
}

func (o *outcomes) count(out Outcome) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.got[out]
}

func TestExecutorOutcomes(t *testing.T) {
	obs := newOutcomes()
	boom := errors.New("boom")
	var mu sync.Mutex
	var seen []State
	e := NewExecutor([]Bound{
		{Name: "ok", Timeout: time.Minute, Action: funcAction(func(_ context.Context, ev Event) error {
			mu.Lock()
			seen = append(seen, ev.State)
			mu.Unlock()
			return nil
		})},
		{Name: "fails", Timeout: time.Minute, Action: funcAction(func(context.Context, Event) error { return boom })},
		{Name: "slow", Timeout: time.Millisecond, Action: funcAction(func(ctx context.Context, _ Event) error {
			<-ctx.Done() // honours its timeout
			return ctx.Err()
		})},
	}, ExecutorSettings{QueueSize: 4, Observe: obs.observe, Logger: zap.NewNop()})
	require.NoError(t, e.Start(context.Background(), nil, nil))
	resolved := testEvent
	resolved.State = Resolved
	require.True(t, e.Submit("ok", testEvent))
	require.True(t, e.Submit("ok", resolved))
	require.True(t, e.Submit("fails", testEvent))
	require.True(t, e.Submit("slow", testEvent))
	for range 4 {
		<-obs.done
	}
	require.NoError(t, e.Shutdown(context.Background()))
	assert.Equal(t, 2, obs.count(OK))
	assert.Equal(t, 1, obs.count(Failure))
	assert.Equal(t, 1, obs.count(Timeout))
	assert.Equal(t, []State{Firing, Resolved}, seen, "one action sees its events in order")
	assert.False(t, e.Submit("ok", testEvent), "submit after shutdown")
	assert.Equal(t, 1, obs.count(Dropped))
}

func TestExecutorFullQueueDrops(t *testing.T) {
	obs := newOutcomes()
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	e := NewExecutor([]Bound{{Name: "stuck", Timeout: time.Minute, Action: funcAction(func(context.Context, Event) error {
		once.Do(func() { close(started) })
		<-release
		return nil
	})}}, ExecutorSettings{QueueSize: 2, Observe: obs.observe, Logger: zap.NewNop()})
	require.NoError(t, e.Start(context.Background(), nil, nil))
	require.True(t, e.Submit("stuck", testEvent))
	<-started // the worker holds event 1; the queue has room for 2 more
	require.True(t, e.Submit("stuck", testEvent))
	require.True(t, e.Submit("stuck", testEvent))
	for range 5 {
		assert.False(t, e.Submit("stuck", testEvent))
	}
	assert.Equal(t, 5, obs.count(Dropped))
	assert.False(t, e.Submit("nosuch", testEvent))
	assert.Equal(t, 6, obs.count(Dropped))
	close(release)
	require.NoError(t, e.Shutdown(context.Background()))
	assert.Equal(t, 3, obs.count(OK), "queued events run before shutdown returns")
}

func TestExecutorShutdownDeadline(t *testing.T) {
	obs := newOutcomes()
	started := make(chan struct{})
	e := NewExecutor([]Bound{{Name: "slow", Timeout: time.Hour, Action: funcAction(func(ctx context.Context, _ Event) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})}}, ExecutorSettings{QueueSize: 1, Observe: obs.observe, Logger: zap.NewNop()})
	require.NoError(t, e.Start(context.Background(), nil, nil))
	require.True(t, e.Submit("slow", testEvent))
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, e.Shutdown(ctx), context.Canceled)
	// The running action saw its context cancelled and reported.
	assert.Equal(t, Failure, <-obs.done)
}

func TestEventGroupValue(t *testing.T) {
	assert.Equal(t, "vnet3", testEvent.GroupValue("network.interface.name"))
	assert.Empty(t, testEvent.GroupValue("process.pid"))
}

// resultAction returns a fixed result and error.
type resultAction struct {
	res Result
	err error
}

func (a resultAction) Fire(context.Context, Event) (Result, error) { return a.res, a.err }

type firingOnlyAction struct{ resultAction }

func (firingOnlyAction) FiringOnly() {}

// Every outcome an action can report reaches the observer, the log (one
// line with the result's fields) and the audit file.
func TestExecutorReportsResults(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	var mu sync.Mutex
	got := map[string]*Report{}
	done := make(chan struct{}, 10)
	target := Target{VM: "web-1", Interface: "vnet3"}
	e := NewExecutor([]Bound{
		{Name: "grow", Type: "txqueuelen", Timeout: time.Minute, Action: resultAction{res: Result{Target: target, Old: "64", New: "256"}}},
		{Name: "kill", Type: "signal", Timeout: time.Minute, Action: resultAction{err: Refuse("process 1 is init")}},
		{Name: "limited", Type: "signal", Timeout: time.Minute, Action: resultAction{err: ErrRateLimited}},
		{Name: "preview", Type: "txqueuelen", Timeout: time.Minute, Action: resultAction{res: Result{Outcome: DryRun, Old: "64", New: "256"}}},
		{Name: "broken", Type: "txqueuelen", Timeout: time.Minute, Action: resultAction{res: Result{Outcome: DryRun}, err: errors.New("netlink: EPERM")}},
	}, ExecutorSettings{QueueSize: 1, Logger: zap.New(core), Observe: func(r *Report) {
		mu.Lock()
		got[r.Action] = r
		mu.Unlock()
		done <- struct{}{}
	}})
	audit, path := openTestAudit(t, 1<<20, 1)
	require.NoError(t, e.Start(context.Background(), nil, audit))
	for _, name := range []string{"grow", "kill", "limited", "preview", "broken"} {
		require.True(t, e.Submit(name, testEvent))
	}
	for range 5 {
		<-done
	}
	require.NoError(t, e.Shutdown(context.Background()))
	outcome := func(name string) Outcome { return got[name].Outcome }
	assert.Equal(t, OK, outcome("grow"))
	assert.Equal(t, Refused, outcome("kill"))
	assert.Equal(t, RateLimited, outcome("limited"))
	assert.Equal(t, DryRun, outcome("preview"))
	assert.Equal(t, Failure, outcome("broken"), "an error wins over the result's outcome")

	ran := logs.FilterMessage("sli action ran").All()
	require.Len(t, ran, 1)
	f := ran[0].ContextMap()
	assert.Equal(t, "grow", f["action"])
	assert.Equal(t, "txqueuelen", f["action_type"])
	assert.Equal(t, "ok", f["outcome"])
	assert.Equal(t, "64", f["old"])
	assert.Equal(t, "256", f["new"])
	assert.Equal(t, map[string]any{"vm.name": "web-1", "network.interface.name": "vnet3"}, f["target"])
	assert.Equal(t, "firing", f["state"])
	assert.Len(t, logs.FilterMessage("sli action refused").All(), 1)
	assert.Len(t, logs.FilterMessage("sli action rate limited").All(), 1)
	assert.Len(t, logs.FilterMessage("sli dry run: action not run").All(), 1)
	assert.Len(t, logs.FilterMessage("sli action failed").All(), 1)

	recs := readAudit(t, path)
	require.Len(t, recs, 5)
	byAction := map[string]map[string]any{}
	for _, r := range recs {
		byAction[r["action"].(string)] = r
	}
	assert.Equal(t, "refused", byAction["kill"]["outcome"])
	assert.Equal(t, "refused: process 1 is init", byAction["kill"]["error"])
	assert.Equal(t, "64", byAction["grow"]["old"])
	assert.Equal(t, map[string]any{"vm.name": "web-1", "network.interface.name": "vnet3"}, byAction["grow"]["target"])
}

// Remediations get firing events only: a resolved event is neither
// queued nor reported.
func TestExecutorFiringOnly(t *testing.T) {
	obs := newOutcomes()
	e := NewExecutor([]Bound{{Name: "grow", Timeout: time.Minute, Action: firingOnlyAction{}}},
		ExecutorSettings{QueueSize: 1, Observe: obs.observe, Logger: zap.NewNop()})
	require.NoError(t, e.Start(context.Background(), nil, nil))
	resolved := testEvent
	resolved.State = Resolved
	for range 5 {
		assert.True(t, e.Submit("grow", resolved))
	}
	require.True(t, e.Submit("grow", testEvent))
	require.NoError(t, e.Shutdown(context.Background()))
	assert.Equal(t, 1, obs.count(OK))
	assert.Len(t, obs.done, 1)
}
