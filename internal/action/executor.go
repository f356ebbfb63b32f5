package action

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Report is one outcome of one event for one action.
type Report struct {
	Action  string // the action's name
	Type    string // its type
	Event   *Event
	Outcome Outcome
	Result  Result
	Err     error
	Took    time.Duration // run time; 0 when it never ran (dropped)
}

// Observer is told every outcome, from the workers' goroutines and from
// Submit. It must be safe for concurrent use.
type Observer func(r *Report)

// Bound is a named action ready to run.
type Bound struct {
	Name    string
	Type    string
	Action  Action
	Timeout time.Duration
}

// ExecutorSettings configure NewExecutor.
type ExecutorSettings struct {
	// QueueSize bounds each action's queue of pending events.
	QueueSize int
	Observe   Observer
	Logger    *zap.Logger
}

// Executor runs actions off the caller's goroutine: each action has its
// own bounded queue and worker, so a slow action (a webhook timing out)
// delays neither telemetry nor the other actions, and one action sees its
// events in order (firing before resolved).
type Executor struct {
	logger  *zap.Logger
	observe Observer
	audit   *Audit

	mu      sync.RWMutex // guards stopped against sends on closed queues
	stopped bool
	workers map[string]*worker

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type worker struct {
	Bound
	firingOnly bool
	queue      chan Event
}

// NewExecutor prepares workers for the actions. Nothing runs until Start.
func NewExecutor(actions []Bound, set ExecutorSettings) *Executor {
	size := max(set.QueueSize, 1)
	e := &Executor{logger: set.Logger, observe: set.Observe, workers: make(map[string]*worker, len(actions))}
	for _, b := range actions {
		_, fo := b.Action.(FiringOnly)
		e.workers[b.Name] = &worker{Bound: b, firingOnly: fo, queue: make(chan Event, size)}
	}
	return e
}

// Start starts the actions that have a lifecycle, then launches one
// goroutine per action. audit, when not nil, gets a record of every run
// before the observer is told.
func (e *Executor) Start(ctx context.Context, host component.Host, audit *Audit) error {
	e.audit = audit
	for _, w := range e.workers {
		if lc, ok := w.Action.(Lifecycle); ok {
			if err := lc.Start(ctx, host); err != nil {
				return fmt.Errorf("start action %s: %w", w.Name, err)
			}
		}
	}
	e.base, e.cancel = context.WithCancel(context.Background())
	for _, w := range e.workers {
		e.wg.Add(1)
		go e.run(w)
	}
	return nil
}

func (e *Executor) run(w *worker) {
	defer e.wg.Done()
	for ev := range w.queue {
		e.fire(w, ev)
	}
}

func (e *Executor) fire(w *worker, ev Event) {
	ctx, cancel := context.WithTimeout(e.base, w.Timeout)
	defer cancel()
	began := time.Now()
	res, err := w.Action.Fire(ctx, ev)
	// What an action did not resolve (log names no target) is the
	// event's VM and interface.
	if res.Target.VM == "" {
		res.Target.VM = ev.GroupValue(AttrVMName)
	}
	if res.Target.Interface == "" {
		res.Target.Interface = ev.GroupValue(AttrInterface)
	}
	r := Report{Action: w.Name, Type: w.Type, Event: &ev, Result: res, Err: err, Took: time.Since(began)}
	r.Outcome = res.Outcome
	if r.Outcome == "" || err != nil {
		r.Outcome = Classify(ctx, err)
	}
	e.log(&r)
	if e.audit != nil {
		if aerr := e.audit.Write(&r); aerr != nil {
			e.logger.Error("sli action audit record not written", zap.String("action", w.Name), zap.Error(aerr))
		}
	}
	e.observe(&r)
}

// log writes one line per run; a log action's own entry makes a second
// line at info level redundant.
func (e *Executor) log(r *Report) {
	lvl, msg := zapcore.InfoLevel, "sli action ran"
	switch r.Outcome {
	case OK:
		if r.Type == LogType {
			lvl = zapcore.DebugLevel
		}
	case DryRun:
		msg = "sli dry run: action not run"
	case Refused:
		lvl, msg = zapcore.WarnLevel, "sli action refused"
	case RateLimited:
		lvl, msg = zapcore.WarnLevel, "sli action rate limited"
	default:
		lvl, msg = zapcore.WarnLevel, "sli action failed"
	}
	ce := e.logger.Check(lvl, msg)
	if ce == nil {
		return
	}
	fields := append(zapEvent(r.Event),
		zap.String("action", r.Action),
		zap.String("action_type", r.Type),
		zap.String("outcome", string(r.Outcome)),
		zap.Object("target", r.Result.Target),
		zap.Duration("took", r.Took),
	)
	if r.Result.Old != "" || r.Result.New != "" {
		fields = append(fields, zap.String("old", r.Result.Old), zap.String("new", r.Result.New))
	}
	if r.Result.Detail != "" {
		fields = append(fields, zap.String("detail", r.Result.Detail))
	}
	if r.Err != nil {
		fields = append(fields, zap.Error(r.Err))
	}
	ce.Write(fields...)
}

// Submit queues an event for the named action without blocking. It
// returns false, after reporting Dropped, when the queue is full, the
// action is unknown or the executor has stopped. A resolved event for a
// firing-only action is not queued and not reported.
func (e *Executor) Submit(name string, ev Event) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	w, ok := e.workers[name]
	switch {
	case !ok:
		e.observe(&Report{Action: name, Event: &ev, Outcome: Dropped, Err: errUnknown})
		return false
	case w.firingOnly && ev.State != Firing:
		return true
	case e.stopped:
		e.observe(&Report{Action: name, Type: w.Type, Event: &ev, Outcome: Dropped, Err: errStopped})
		return false
	}
	select {
	case w.queue <- ev:
		return true
	default:
		e.logger.Warn("sli action queue full; event dropped", append(zapEvent(&ev),
			zap.String("action", name), zap.String("action_type", w.Type))...)
		e.observe(&Report{Action: name, Type: w.Type, Event: &ev, Outcome: Dropped})
		return false
	}
}

// Shutdown stops taking events and lets the workers finish the queued
// ones. When ctx ends first, the running actions' contexts are cancelled
// and ctx's error returned without waiting for actions that ignore it.
// Actions with a lifecycle are shut down last.
func (e *Executor) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.stopped {
		e.stopped = true
		for _, w := range e.workers {
			close(w.queue)
		}
	}
	e.mu.Unlock()
	var err error
	if e.cancel != nil { // started
		done := make(chan struct{})
		go func() { e.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		e.cancel()
	}
	for _, w := range e.workers {
		if lc, ok := w.Action.(Lifecycle); ok {
			err = errors.Join(err, lc.Shutdown(ctx))
		}
	}
	return err
}
