package action

import (
	"context"
	"time"
)

// CommonConfig holds the settings every action type but log takes; types
// embed it with `mapstructure:",squash"`.
type CommonConfig struct {
	// DryRun makes the action work out what it would do (target, old and
	// new values, refusals, rate limits) and do nothing.
	DryRun    bool            `mapstructure:"dry_run"`
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`
}

// remediationDefaults: one run per target per minute, ten at once over
// all targets and one more per second.
func remediationDefaults() CommonConfig {
	return CommonConfig{RateLimit: RateLimitConfig{
		PerTarget: LimitConfig{Every: time.Minute, Burst: 1},
		Global:    LimitConfig{Every: time.Second, Burst: 10},
	}}
}

// notifierDefaults: no per-target limit (a trigger's cooldown already
// paces one group's alerts), the same global limit as remediations.
func notifierDefaults() CommonConfig {
	return CommonConfig{RateLimit: RateLimitConfig{
		Global: LimitConfig{Every: time.Second, Burst: 10},
	}}
}

func (c *CommonConfig) validate() error { return c.RateLimit.validate() }

// operation is what an action type does once the guard let an event
// through.
type operation interface {
	// target resolves what the event acts on from its group, or refuses.
	target(ev *Event) (Target, error)
	// run acts on the target; with dry set it works out what it would do
	// (reading current values is fine) and changes nothing.
	run(ctx context.Context, t Target, ev *Event, dry bool) (Result, error)
}

// guarded wraps an operation in what every action type shares: target
// resolution first (a refused event takes no token), then the rate limits
// (firing events only), then the run or the dry run.
type guarded struct {
	op     operation
	dryRun bool
	limits *limiter
}

func newGuarded(op operation, common CommonConfig, set *Settings) *guarded {
	return &guarded{op: op, dryRun: common.DryRun, limits: newLimiter(common.RateLimit, set.clock())}
}

// Fire runs one event through the guard.
func (g *guarded) Fire(ctx context.Context, ev Event) (Result, error) {
	t, err := g.op.target(&ev)
	if err != nil {
		return Result{Target: t}, err
	}
	if ev.State == Firing && !g.limits.allow(t.Key) {
		return Result{Target: t}, ErrRateLimited
	}
	dry := g.dryRun || ev.DryRun
	res, err := g.op.run(ctx, t, &ev, dry)
	res.Target = t
	if err == nil && dry {
		res.Outcome = DryRun
	}
	return res, err
}

// remediation is a guarded operation that acts on firing events only.
type remediation struct{ *guarded }

// FiringOnly marks remediations: a resolved event has nothing to undo.
func (remediation) FiringOnly() {}
