package action

import (
	"context"
	"errors"
	"fmt"
)

// Outcome is how one delivery of an event to an action ended.
type Outcome string

const (
	// OK: the action did what it does.
	OK Outcome = "ok"
	// Failure: the action tried and failed.
	Failure Outcome = "error"
	// Timeout: the run outlived its timeout.
	Timeout Outcome = "timeout"
	// Refused: the action would not act: the target is not allowed (pid,
	// process name, interface), cannot be resolved from the group, or a
	// limit such as txqueuelen's max is reached.
	Refused Outcome = "refused"
	// RateLimited: a per-target or global rate limit held the run back.
	RateLimited Outcome = "rate_limited"
	// DryRun: the action worked out what it would do and did nothing.
	DryRun Outcome = "dry_run"
	// Dropped: the action's queue was full (or the executor stopped), so
	// the event never ran.
	Dropped Outcome = "dropped"
	// Held: a trigger's cooldown held the actions back (counted by the
	// processor, never run).
	Held Outcome = "held"
)

// Refusal is the error of an action that would not act; the message says
// why.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "refused: " + r.Reason }

// Refuse returns a *Refusal with a formatted reason.
func Refuse(format string, a ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, a...)}
}

// ErrRateLimited is returned when a rate limit holds a run back.
var ErrRateLimited = errors.New("rate limited")

// Classify maps a run's error to its outcome; ctx is the run's context,
// which tells a timeout from an error that wraps none.
func Classify(ctx context.Context, err error) Outcome {
	var refusal *Refusal
	switch {
	case err == nil:
		return OK
	case errors.As(err, &refusal):
		return Refused
	case errors.Is(err, ErrRateLimited):
		return RateLimited
	case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Timeout
	default:
		return Failure
	}
}
