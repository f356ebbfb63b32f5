package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ExecType runs a program with templated arguments. It is opt-in: the
// processor must set allow_exec.
const ExecType = "exec"

// execOutputMax bounds what is kept of each of stdout and stderr.
const execOutputMax = 4096

// execEnv is the program's whole environment: the collector's may hold
// exporters' credentials.
var execEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}

// ExecConfig configures an exec action.
type ExecConfig struct {
	CommonConfig `mapstructure:",squash"`
	// Program is the absolute path of the executable; no shell runs it.
	Program string `mapstructure:"program"`
	// Args are templates over the group's attributes ({{vm.name}},
	// {{network.interface.name}}, {{process.pid}}) and {{value}},
	// {{threshold}}, {{trigger}}, {{indicator}}, {{state}}, {{window}}.
	Args []string `mapstructure:"args"`
}

// ExecFactory makes exec actions.
type ExecFactory struct{}

// Type returns "exec".
func (ExecFactory) Type() string { return ExecType }

func (ExecFactory) decode(settings map[string]any) (ExecConfig, []Template, error) {
	cfg := ExecConfig{CommonConfig: remediationDefaults()}
	if err := Decode(settings, &cfg); err != nil {
		return cfg, nil, err
	}
	var errs []error
	if !filepath.IsAbs(cfg.Program) || filepath.Clean(cfg.Program) != cfg.Program {
		errs = append(errs, fmt.Errorf("program: %q must be a clean absolute path", cfg.Program))
	}
	args := make([]Template, len(cfg.Args))
	for i, a := range cfg.Args {
		var err error
		if args[i], err = ParseTemplate(a); err != nil {
			errs = append(errs, fmt.Errorf("args[%d]: %w", i, err))
		}
	}
	errs = append(errs, cfg.validate())
	return cfg, args, errors.Join(errs...)
}

// Validate checks the settings.
func (f ExecFactory) Validate(settings map[string]any) error {
	_, _, err := f.decode(settings)
	return err
}

// Create builds an exec action; without allow_exec on the processor, or
// without an executable program, it refuses.
func (f ExecFactory) Create(set Settings, settings map[string]any) (Action, error) {
	if !set.AllowExec {
		return nil, errors.New("exec actions need allow_exec: true on the processor")
	}
	cfg, args, err := f.decode(settings)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(cfg.Program)
	if err != nil {
		return nil, fmt.Errorf("program: %w", err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("program: %s is not an executable file", cfg.Program)
	}
	op := &execOp{cfg: cfg, args: args, logger: set.Logger.With(zap.String("action", set.Name))}
	return remediation{newGuarded(op, cfg.CommonConfig, &set)}, nil
}

type execOp struct {
	cfg    ExecConfig
	args   []Template
	logger *zap.Logger
}

// render fills the arguments; a group value that is not safe refuses.
func (o *execOp) render(ev *Event) ([]string, error) {
	lookup := groupLookup(ev, map[string]string{
		"value":     strconv.FormatFloat(ev.Value, 'g', -1, 64),
		"threshold": strconv.FormatFloat(ev.Threshold, 'g', -1, 64),
		"trigger":   ev.Trigger,
		"indicator": ev.Indicator,
		"state":     string(ev.State),
		"window":    ev.Window.String(),
	})
	out := make([]string, len(o.args))
	for i, t := range o.args {
		var err error
		if out[i], err = t.Render(lookup); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// target renders the arguments: a group value that is not safe refuses
// before the run takes a rate-limit token.
func (o *execOp) target(ev *Event) (Target, error) {
	t := groupTarget(ev)
	t.PID, _ = strconv.Atoi(ev.GroupValue(AttrPID))
	var err error
	t.args, err = o.render(ev)
	return t, err
}

func (o *execOp) run(ctx context.Context, t Target, _ *Event, dry bool) (Result, error) {
	res := Result{Detail: "run " + strings.Join(append([]string{o.cfg.Program}, t.args...), " ")}
	if dry {
		return res, nil
	}
	cmd := exec.CommandContext(ctx, o.cfg.Program, t.args...)
	cmd.Env, cmd.Dir = execEnv, "/"
	stdout, stderr := &boundedBuffer{max: execOutputMax}, &boundedBuffer{max: execOutputMax}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killGroupOnCancel(cmd)
	// Grandchildren holding the pipes open must not keep Wait waiting.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	if err == nil || errors.As(err, &exit) {
		res.Exited, res.ExitCode = true, cmd.ProcessState.ExitCode()
		res.Detail = fmt.Sprintf("%s: %s", res.Detail, cmd.ProcessState)
	}
	o.logger.Info("sli exec output", zap.String("program", o.cfg.Program), zap.Strings("args", t.args),
		zap.Int("exit_code", res.ExitCode), zap.String("stdout", stdout.String()), zap.String("stderr", stderr.String()))
	if err != nil {
		return res, fmt.Errorf("exec %s: %w", o.cfg.Program, err)
	}
	return res, nil
}

// boundedBuffer keeps the first max bytes written and counts the rest.
type boundedBuffer struct {
	max     int
	b       []byte
	dropped int
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	keep := min(len(p), w.max-len(w.b))
	w.b = append(w.b, p[:keep]...)
	w.dropped += len(p) - keep
	return len(p), nil
}

func (w *boundedBuffer) String() string {
	if w.dropped > 0 {
		return fmt.Sprintf("%s...(%d bytes dropped)", w.b, w.dropped)
	}
	return string(w.b)
}
