// Package action defines what the sli processor's triggers run when they
// fire or resolve: the Action interface, a registry of action types, an
// executor that runs actions off the pipeline's goroutine with an optional
// audit file, and the built-in action types: log, signal, txqueuelen,
// affinity, qmp, webhook and exec. Every type but log shares the guard
// (guard.go): target resolution, dry run and rate limits.
package action // import "github.com/vnetpath/vnetpath/internal/action"

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vnetpath/vnetpath/internal/sli/clock"
)

// State says whether an event opens or closes an episode.
type State string

const (
	// Firing: the trigger entered firing (or its cooldown hold ended).
	Firing State = "firing"
	// Resolved: a trigger whose firing event was delivered recovered.
	Resolved State = "resolved"
)

// Attribute is one group attribute of an event, e.g. vm.name=web-1.
type Attribute struct {
	Key   string
	Value string
}

// Event is what an action receives. Notifying actions (log, webhook) get
// firing and resolved events; remediations implement FiringOnly and get
// firing events only.
type Event struct {
	Trigger   string
	Indicator string
	// Value is the indicator over Window when the event was raised, and
	// Threshold the bound it crossed: `above`/`below` when firing,
	// `recover_below`/`recover_above` when resolved.
	Value     float64
	Threshold float64
	Window    time.Duration
	// Group holds the group_by attributes in configuration order.
	Group []Attribute
	State State
	Time  time.Time
	// DryRun asks the action to work out what it would do and do nothing:
	// the trigger or the processor is in dry run.
	DryRun bool
}

// GroupValue returns the group attribute key, or "" without it.
func (e *Event) GroupValue(key string) string {
	for _, a := range e.Group {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// Action is something a trigger does.
type Action interface {
	// Fire handles one event. ctx carries the action's timeout; an action
	// must return when it is done. A *Refusal or ErrRateLimited error
	// reports that it deliberately did nothing (see Classify).
	Fire(ctx context.Context, ev Event) (Result, error)
}

// Result is what one run did, for the log, the audit file and the
// derived metrics.
type Result struct {
	// Outcome overrides the one derived from the error; actions set
	// DryRun. Empty means Classify(err).
	Outcome Outcome
	// Target is what the action acted on, as far as it was resolved.
	Target Target
	// Old and New are the values changed (txqueuelen 64 -> 256, CPU
	// masks); in a dry run New is what would have been set.
	Old, New string
	// Detail is a short human-readable note: an HTTP status, a QMP
	// reply, an exit status.
	Detail string
	// ExitCode is the exit status of an exec action's program; valid
	// when Exited.
	ExitCode int
	Exited   bool
}

// FiringOnly is implemented by actions that act on firing events only
// (remediations): the executor queues no resolved event for them.
type FiringOnly interface {
	FiringOnly()
}

// Lifecycle is implemented by actions that need the collector's host at
// start (HTTP client extensions) or hold resources until shutdown.
type Lifecycle interface {
	Start(ctx context.Context, host component.Host) error
	Shutdown(ctx context.Context) error
}

// Settings is what a factory gets to build an action.
type Settings struct {
	// Name is the action's name in the configuration.
	Name   string
	Logger *zap.Logger
	// Telemetry builds HTTP clients (webhook).
	Telemetry component.TelemetrySettings
	// Clock paces rate limits; nil means the system clock.
	Clock clock.Clock
	// VMs finds the VMM of an event's group; nil means a /proc scan.
	VMs VMFinder
	// AllowExec is the processor's allow_exec: exec actions refuse to be
	// created without it.
	AllowExec bool
}

func (s *Settings) clock() clock.Clock {
	if s.Clock == nil {
		return clock.Real{}
	}
	return s.Clock
}

func (s *Settings) vms() VMFinder {
	if s.VMs == nil {
		return ScanFinder{}
	}
	return s.VMs
}

// Factory makes actions of one type.
type Factory interface {
	// Type is the value of `type:` in the action's configuration.
	Type() string
	// Validate checks an action's settings (its configuration without
	// `type` and `timeout`) at configuration time.
	Validate(settings map[string]any) error
	// Create builds the action at start.
	Create(set Settings, settings map[string]any) (Action, error)
}

// Registry maps action types to their factories. New action types plug in
// by adding a factory; triggers only know action names.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns a registry of the given factories.
func NewRegistry(factories ...Factory) (*Registry, error) {
	r := &Registry{factories: make(map[string]Factory, len(factories))}
	for _, f := range factories {
		if _, dup := r.factories[f.Type()]; dup {
			return nil, fmt.Errorf("action type %q registered twice", f.Type())
		}
		r.factories[f.Type()] = f
	}
	return r, nil
}

// Types lists the registered types, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.factories))
	for t := range r.factories {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Factory returns the factory of a type.
func (r *Registry) Factory(typ string) (Factory, bool) {
	f, ok := r.factories[typ]
	return f, ok
}

// Decode unmarshals an action's settings into cfg with the collector's
// configuration rules (durations, unknown keys refused).
func Decode(settings map[string]any, cfg any) error {
	return confmap.NewFromStringMap(settings).Unmarshal(cfg)
}

// ZapGroup logs group attributes as one object field.
func ZapGroup(attrs []Attribute) zap.Field {
	return zap.Object("group", groupMarshaler(attrs))
}

type groupMarshaler []Attribute

func (g groupMarshaler) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, a := range g {
		enc.AddString(a.Key, a.Value)
	}
	return nil
}

var (
	errStopped = errors.New("executor stopped")
	errUnknown = errors.New("no such action")
)

// zapEvent is the fields every log line about an event carries.
func zapEvent(ev *Event) []zap.Field {
	return []zap.Field{
		zap.String("trigger", ev.Trigger),
		zap.String("state", string(ev.State)),
		ZapGroup(ev.Group),
	}
}

// checkKeys refuses settings keys that are no field of cfg. Decode does
// that too, except for configurations that squash a struct with an
// Unmarshal method (confighttp.ClientConfig), which turns the check off.
func checkKeys(settings map[string]any, cfg any) error {
	known := map[string]bool{}
	collectKeys(reflect.TypeOf(cfg), known)
	var unknown []string
	for k := range settings {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("unknown settings %q", unknown)
}

// collectKeys adds the mapstructure names of t's fields, descending into
// squashed structs.
func collectKeys(t reflect.Type, known map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		switch {
		case slices.Contains(strings.Split(opts, ","), "squash"):
			collectKeys(f.Type, known)
		case name != "" && name != "-":
			known[name] = true
		}
	}
}
