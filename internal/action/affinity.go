package action

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// AffinityType pins the VM's worker threads (vhost-<pid>) to a CPU list.
const AffinityType = "affinity"

// AffinityConfig configures an affinity action.
type AffinityConfig struct {
	CommonConfig `mapstructure:",squash"`
	// CPUs is the CPU list to pin to, e.g. "0-1,3"; every CPU must be
	// online at start and when the action runs.
	CPUs string `mapstructure:"cpus"`
	// Threads are name globs of the VMM's threads to pin.
	Threads []string `mapstructure:"threads"`
}

// AffinityFactory makes affinity actions.
type AffinityFactory struct{}

// Type returns "affinity".
func (AffinityFactory) Type() string { return AffinityType }

func (AffinityFactory) decode(settings map[string]any) (AffinityConfig, []int, error) {
	cfg := AffinityConfig{CommonConfig: remediationDefaults(), Threads: []string{"vhost-*"}}
	if err := Decode(settings, &cfg); err != nil {
		return cfg, nil, err
	}
	var errs []error
	cpus, err := ParseCPUList(cfg.CPUs)
	if err != nil {
		errs = append(errs, fmt.Errorf("cpus: %w", err))
	}
	errs = append(errs, checkGlobs("threads", "thread name glob, e.g. vhost-*", cfg.Threads), cfg.validate())
	return cfg, cpus, errors.Join(errs...)
}

// Validate checks the settings; the CPUs are checked against the online
// ones at Create, on the host that runs the action.
func (f AffinityFactory) Validate(settings map[string]any) error {
	_, _, err := f.decode(settings)
	return err
}

// Create builds an affinity action; CPUs that are not online refuse it.
func (f AffinityFactory) Create(set Settings, settings map[string]any) (Action, error) {
	cfg, cpus, err := f.decode(settings)
	if err != nil {
		return nil, err
	}
	op := &affinityOp{cpus: cpus, threads: cfg.Threads, vms: set.vms()}
	if err := op.checkOnline(); err != nil {
		return nil, fmt.Errorf("cpus: %w", err)
	}
	return remediation{newGuarded(op, cfg.CommonConfig, &set)}, nil
}

type affinityOp struct {
	cpus    []int
	threads []string
	vms     VMFinder
}

func (o *affinityOp) checkOnline() error {
	online, err := onlineCPUs()
	if err != nil {
		return err
	}
	if miss := missingCPUs(o.cpus, online); len(miss) > 0 {
		return Refuse("CPUs %s are not online (online: %s)", FormatCPUList(miss), FormatCPUList(online))
	}
	return nil
}

func (o *affinityOp) target(ev *Event) (Target, error) {
	t, err := resolveVM(ev, o.vms, o.threads)
	if err != nil {
		return t, err
	}
	if len(t.workers) == 0 {
		return t, Refuse("VMM %d has no thread matching %v", t.PID, o.threads)
	}
	return t, nil
}

func (o *affinityOp) run(_ context.Context, t Target, _ *Event, dry bool) (Result, error) {
	if err := o.checkOnline(); err != nil {
		return Result{}, err
	}
	res := Result{New: FormatCPUList(o.cpus)}
	var old, tids []string
	for _, w := range t.workers {
		mask, err := threadAffinity(w.TID)
		if err != nil {
			return res, fmt.Errorf("thread %d (%s): %w", w.TID, w.Name, err)
		}
		old = append(old, fmt.Sprintf("%d:%s", w.TID, FormatCPUList(mask)))
		tids = append(tids, strconv.Itoa(w.TID))
	}
	res.Old = strings.Join(old, " ")
	res.Detail = "threads " + strings.Join(tids, ",")
	if dry {
		return res, nil
	}
	for _, w := range t.workers {
		if err := setThreadAffinity(w.TID, o.cpus); err != nil {
			return res, fmt.Errorf("pin thread %d (%s) to %s: %w", w.TID, w.Name, res.New, err)
		}
	}
	return res, nil
}
