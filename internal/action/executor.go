package action

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Outcome is how one delivery of an event to an action ended.
type Outcome string

const (
	Success Outcome = "success"
	Failure Outcome = "error"
	Timeout Outcome = "timeout"
	// Dropped: the action's queue was full (or the executor stopped), so
	// the event never ran.
	Dropped Outcome = "dropped"
)

// Observer is told every outcome, from the workers' goroutines and from
// Submit. It must be safe for concurrent use.
type Observer func(action string, ev *Event, outcome Outcome, err error)

// Bound is a named action ready to run.
type Bound struct {
	Name    string
	Action  Action
	Timeout time.Duration
}

// Executor runs actions off the caller's goroutine: each action has its
// own bounded queue and worker, so a slow action (a webhook timing out)
// delays neither telemetry nor the other actions, and one action sees its
// events in order (firing before resolved).
type Executor struct {
	logger  *zap.Logger
	observe Observer

	mu      sync.RWMutex // guards stopped against sends on closed queues
	stopped bool
	workers map[string]*worker

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type worker struct {
	Bound
	queue chan Event
}

// NewExecutor prepares workers for the actions, each with a queue of
// queueSize events. Nothing runs until Start.
func NewExecutor(actions []Bound, queueSize int, observe Observer, logger *zap.Logger) *Executor {
	if queueSize < 1 {
		queueSize = 1
	}
	e := &Executor{logger: logger, observe: observe, workers: make(map[string]*worker, len(actions))}
	for _, b := range actions {
		e.workers[b.Name] = &worker{Bound: b, queue: make(chan Event, queueSize)}
	}
	return e
}

// Start launches one goroutine per action.
func (e *Executor) Start() {
	e.base, e.cancel = context.WithCancel(context.Background())
	for _, w := range e.workers {
		e.wg.Add(1)
		go e.run(w)
	}
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
	err := w.Action.Fire(ctx, ev)
	outcome := Success
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		outcome = Timeout
	default:
		outcome = Failure
	}
	if err != nil {
		e.logger.Warn("sli action failed", zap.String("action", w.Name), zap.String("trigger", ev.Trigger),
			zap.String("state", string(ev.State)), ZapGroup(ev.Group), zap.String("outcome", string(outcome)), zap.Error(err))
	}
	e.observe(w.Name, &ev, outcome, err)
}

// Submit queues an event for the named action without blocking. It
// returns false, after reporting Dropped, when the queue is full, the
// action is unknown or the executor has stopped.
func (e *Executor) Submit(name string, ev Event) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	w, ok := e.workers[name]
	switch {
	case !ok:
		e.observe(name, &ev, Dropped, errUnknown)
		return false
	case e.stopped:
		e.observe(name, &ev, Dropped, errStopped)
		return false
	}
	select {
	case w.queue <- ev:
		return true
	default:
		e.logger.Warn("sli action queue full; event dropped", zap.String("action", name),
			zap.String("trigger", ev.Trigger), zap.String("state", string(ev.State)), ZapGroup(ev.Group))
		e.observe(name, &ev, Dropped, nil)
		return false
	}
}

// Shutdown stops taking events and lets the workers finish the queued
// ones. When ctx ends first, the running actions' contexts are cancelled
// and ctx's error returned without waiting for actions that ignore it.
func (e *Executor) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.stopped {
		e.stopped = true
		for _, w := range e.workers {
			close(w.queue)
		}
	}
	e.mu.Unlock()
	if e.cancel == nil { // never started
		return nil
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		e.cancel()
		return nil
	case <-ctx.Done():
		e.cancel()
		return ctx.Err()
	}
}
