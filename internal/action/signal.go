package action

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"syscall"
)

// SignalType sends a signal to the VMM of the event's VM.
const SignalType = "signal"

// SignalConfig configures a signal action.
type SignalConfig struct {
	CommonConfig `mapstructure:",squash"`
	// Signal is the signal's name, SIGUSR1 by default.
	Signal string `mapstructure:"signal"`
	// AllowedProcessNames are globs (path.Match) that /proc/<pid>/comm
	// must match; comm is at most 15 characters (qemu-system-x86).
	AllowedProcessNames []string `mapstructure:"allowed_process_names"`
}

// SignalFactory makes signal actions.
type SignalFactory struct{}

// Type returns "signal".
func (SignalFactory) Type() string { return SignalType }

func (SignalFactory) decode(settings map[string]any) (SignalConfig, syscall.Signal, error) {
	cfg := SignalConfig{
		CommonConfig:        remediationDefaults(),
		Signal:              "SIGUSR1",
		AllowedProcessNames: []string{"qemu-system-*", "qemu-kvm"},
	}
	if err := Decode(settings, &cfg); err != nil {
		return cfg, 0, err
	}
	if err := cfg.validate(); err != nil {
		return cfg, 0, err
	}
	sig, err := parseSignal(cfg.Signal)
	if err != nil {
		return cfg, 0, err
	}
	if err := checkGlobs("allowed_process_names", "glob, e.g. qemu-system-*", cfg.AllowedProcessNames); err != nil {
		return cfg, 0, err
	}
	return cfg, sig, nil
}

// Validate checks the settings.
func (f SignalFactory) Validate(settings map[string]any) error {
	_, _, err := f.decode(settings)
	return err
}

// Create builds a signal action.
func (f SignalFactory) Create(set Settings, settings map[string]any) (Action, error) {
	cfg, sig, err := f.decode(settings)
	if err != nil {
		return nil, err
	}
	op := &signalOp{sig: sig, name: cfg.Signal, allowed: cfg.AllowedProcessNames, vms: set.vms(), self: os.Getpid()}
	return remediation{newGuarded(op, cfg.CommonConfig, &set)}, nil
}

type signalOp struct {
	sig     syscall.Signal
	name    string
	allowed []string
	vms     VMFinder
	self    int
}

func (o *signalOp) target(ev *Event) (Target, error) {
	t, err := resolveVM(ev, o.vms, nil)
	if err != nil {
		return t, err
	}
	switch {
	case t.PID <= 1:
		return t, Refuse("pid %d: init and below are never signalled", t.PID)
	case t.PID == o.self:
		return t, Refuse("pid %d is the collector itself", t.PID)
	}
	return t, nil
}

func (o *signalOp) run(_ context.Context, t Target, _ *Event, dry bool) (Result, error) {
	comm, err := signalProcess(t.PID, o.sig, o.allowed, dry)
	res := Result{New: o.name}
	if comm != "" {
		res.Detail = "comm " + comm
	}
	if err != nil {
		return res, fmt.Errorf("%s to pid %d: %w", o.name, t.PID, err)
	}
	return res, nil
}

// allowedName reports whether name matches one of the globs.
func allowedName(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// checkGlobs refuses an empty list of name globs (what names one) and a
// malformed or empty glob: an allow-list must allow something definite.
func checkGlobs(field, what string, globs []string) error {
	if len(globs) == 0 {
		return fmt.Errorf("%s: list at least one %s", field, what)
	}
	var errs []error
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			errs = append(errs, fmt.Errorf("%s[%d]: bad glob %q", field, i, g))
		}
	}
	return errors.Join(errs...)
}
