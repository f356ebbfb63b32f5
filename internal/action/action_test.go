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
	require.NoError(t, a.Fire(context.Background(), testEvent))
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
}

func TestLogSettingsRefused(t *testing.T) {
	assert.EqualError(t, LogFactory{}.Validate(map[string]any{"level": "loud"}),
		`level: unknown level "loud"; allowed: debug, info, warn, error`)
	assert.ErrorContains(t, LogFactory{}.Validate(map[string]any{"colour": "red"}), "colour")
	assert.NoError(t, LogFactory{}.Validate(nil))
}

// funcAction adapts a function.
type funcAction func(ctx context.Context, ev Event) error

func (f funcAction) Fire(ctx context.Context, ev Event) error { return f(ctx, ev) }

// outcomes records what the executor observed.
type outcomes struct {
	mu   sync.Mutex
	got  map[Outcome]int
	done chan Outcome
}

func newOutcomes() *outcomes {
	return &outcomes{got: map[Outcome]int{}, done: make(chan Outcome, 100)}
}

func (o *outcomes) observe(_ string, _ *Event, out Outcome, _ error) {
	o.mu.Lock()
	o.got[out]++
	o.mu.Unlock()
	o.done <- out
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
	}, 4, obs.observe, zap.NewNop())
	e.Start()
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
	assert.Equal(t, 2, obs.count(Success))
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
	})}}, 2, obs.observe, zap.NewNop())
	e.Start()
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
	assert.Equal(t, 3, obs.count(Success), "queued events run before shutdown returns")
}

func TestExecutorShutdownDeadline(t *testing.T) {
	obs := newOutcomes()
	started := make(chan struct{})
	e := NewExecutor([]Bound{{Name: "slow", Timeout: time.Hour, Action: funcAction(func(ctx context.Context, _ Event) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})}}, 1, obs.observe, zap.NewNop())
	e.Start()
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
