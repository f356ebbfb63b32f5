package action

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LogType is the type of the built-in log action.
const LogType = "log"

// LogConfig configures the log action.
type LogConfig struct {
	// Level of the log entry: debug, info, warn or error.
	Level string `mapstructure:"level"`
}

// LogFactory makes log actions: each event becomes one structured log
// entry. It needs no privilege and is what `actions: [log]` uses when no
// action named log is configured.
type LogFactory struct{}

// Type returns "log".
func (LogFactory) Type() string { return LogType }

func (LogFactory) decode(settings map[string]any) (zapcore.Level, error) {
	cfg := LogConfig{Level: "info"}
	if err := Decode(settings, &cfg); err != nil {
		return 0, err
	}
	lvl, err := zapcore.ParseLevel(cfg.Level)
	if err != nil || lvl < zapcore.DebugLevel || lvl > zapcore.ErrorLevel {
		return 0, fmt.Errorf("level: unknown level %q; allowed: debug, info, warn, error", cfg.Level)
	}
	return lvl, nil
}

// Validate checks the settings.
func (f LogFactory) Validate(settings map[string]any) error {
	_, err := f.decode(settings)
	return err
}

// Create builds a log action.
func (f LogFactory) Create(set Settings, settings map[string]any) (Action, error) {
	lvl, err := f.decode(settings)
	if err != nil {
		return nil, err
	}
	return &logAction{logger: set.Logger.With(zap.String("action", set.Name)), level: lvl}, nil
}

type logAction struct {
	logger *zap.Logger
	level  zapcore.Level
}

// Fire writes the entry; in a dry run it writes nothing (the executor logs
// the dry run).
func (a *logAction) Fire(_ context.Context, ev Event) (Result, error) {
	if ev.DryRun {
		return Result{Outcome: DryRun}, nil
	}
	a.logger.Log(a.level, "sli trigger "+string(ev.State),
		zap.String("trigger", ev.Trigger),
		zap.String("indicator", ev.Indicator),
		zap.String("state", string(ev.State)),
		zap.Float64("value", ev.Value),
		zap.Float64("threshold", ev.Threshold),
		zap.Duration("window", ev.Window),
		ZapGroup(ev.Group),
		zap.Time("time", ev.Time),
	)
	return Result{}, nil
}
