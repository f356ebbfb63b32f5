package action

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnetpath/vnetpath/internal/sli/clock"
)

// recordingOp records the runs the guard lets through.
type recordingOp struct {
	refuse error
	runs   []bool // dry flag of each run
}

func (o *recordingOp) target(ev *Event) (Target, error) {
	return Target{Interface: ev.GroupValue(AttrInterface), Key: ev.GroupValue(AttrInterface)}, o.refuse
}

func (o *recordingOp) run(_ context.Context, _ Target, _ *Event, dry bool) (Result, error) {
	o.runs = append(o.runs, dry)
	return Result{Old: "64", New: "256"}, nil
}

func TestGuard(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	op := &recordingOp{}
	common := CommonConfig{RateLimit: RateLimitConfig{PerTarget: LimitConfig{Every: time.Minute, Burst: 1}}}
	g := newGuarded(op, common, &Settings{Clock: clk})
	ctx := context.Background()

	res, err := g.Fire(ctx, testEvent)
	require.NoError(t, err)
	assert.Equal(t, Result{Target: Target{Interface: "vnet3", Key: "vnet3"}, Old: "64", New: "256"}, res)

	_, err = g.Fire(ctx, testEvent)
	assert.ErrorIs(t, err, ErrRateLimited, "second firing within a minute")
	assert.Equal(t, RateLimited, Classify(ctx, err))

	resolved := testEvent
	resolved.State = Resolved
	_, err = g.Fire(ctx, resolved)
	assert.NoError(t, err, "resolved events take no token")

	clk.Advance(time.Minute)
	dry := testEvent
	dry.DryRun = true
	res, err = g.Fire(ctx, dry)
	require.NoError(t, err)
	assert.Equal(t, DryRun, res.Outcome)
	assert.Equal(t, "256", res.New, "a dry run says what it would set")
	assert.Equal(t, []bool{false, false, true}, op.runs)
}

func TestGuardDryRunSetting(t *testing.T) {
	op := &recordingOp{}
	g := newGuarded(op, CommonConfig{DryRun: true}, &Settings{})
	res, err := g.Fire(context.Background(), testEvent)
	require.NoError(t, err)
	assert.Equal(t, DryRun, res.Outcome)
	assert.Equal(t, []bool{true}, op.runs)
}

// A refused target takes no rate-limit token and never runs.
func TestGuardRefusalFirst(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	op := &recordingOp{refuse: Refuse("interface vnet3 is not allowed")}
	g := newGuarded(op, CommonConfig{RateLimit: RateLimitConfig{Global: LimitConfig{Every: time.Hour, Burst: 1}}}, &Settings{Clock: clk})
	for range 3 {
		res, err := g.Fire(context.Background(), testEvent)
		var refusal *Refusal
		require.True(t, errors.As(err, &refusal))
		assert.Equal(t, "vnet3", res.Target.Interface, "the target is reported as far as resolved")
	}
	op.refuse = nil
	_, err := g.Fire(context.Background(), testEvent)
	assert.NoError(t, err, "the global token is still there")
	assert.Len(t, op.runs, 1)
}
