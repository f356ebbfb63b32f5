package action

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
)

// TxQueueLenType raises the txqueuelen of the event's interface; on a tap
// that is the size of tun's ring, which tun resizes live: the direct fix
// for FULL_RING drops.
const TxQueueLenType = "txqueuelen"

// maxTxQueueLen bounds max: tun allocates the ring up front.
const maxTxQueueLen = 1 << 16

// TxQueueLenConfig configures a txqueuelen action.
type TxQueueLenConfig struct {
	CommonConfig `mapstructure:",squash"`
	// Multiply the current value by this, or Set it to this (exactly one).
	Multiply int `mapstructure:"multiply"`
	Set      int `mapstructure:"set"`
	// Max caps the new value; at max the action refuses.
	Max int `mapstructure:"max"`
	// Netns is the path of the interface's network namespace (e.g.
	// /var/run/netns/NAME); empty is the collector's own.
	Netns string `mapstructure:"netns"`
	// AllowedInterfaces are the name globs the action may change.
	AllowedInterfaces []string `mapstructure:"allowed_interfaces"`
}

// TxQueueLenFactory makes txqueuelen actions.
type TxQueueLenFactory struct{}

// Type returns "txqueuelen".
func (TxQueueLenFactory) Type() string { return TxQueueLenType }

func (TxQueueLenFactory) decode(settings map[string]any) (TxQueueLenConfig, error) {
	cfg := TxQueueLenConfig{
		CommonConfig:      remediationDefaults(),
		Max:               4096,
		AllowedInterfaces: []string{"vnet*", "tap*", "macvtap*"},
	}
	if err := Decode(settings, &cfg); err != nil {
		return cfg, err
	}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case (cfg.Multiply == 0) == (cfg.Set == 0):
		fail("exactly one of multiply, set is required")
	case cfg.Multiply != 0 && cfg.Multiply < 2:
		fail("multiply: must be at least 2, got %d", cfg.Multiply)
	case cfg.Set < 0 || cfg.Set > cfg.Max:
		fail("set: %d is outside [1, max %d]", cfg.Set, cfg.Max)
	}
	if cfg.Max < 1 || cfg.Max > maxTxQueueLen {
		fail("max: must be in [1, %d], got %d", maxTxQueueLen, cfg.Max)
	}
	if cfg.Netns != "" && !filepath.IsAbs(cfg.Netns) {
		fail("netns: %q must be an absolute path such as /var/run/netns/NAME", cfg.Netns)
	}
	errs = append(errs, checkGlobs("allowed_interfaces", "name glob, e.g. vnet*", cfg.AllowedInterfaces), cfg.validate())
	return cfg, errors.Join(errs...)
}

// Validate checks the settings.
func (f TxQueueLenFactory) Validate(settings map[string]any) error {
	_, err := f.decode(settings)
	return err
}

// Create builds a txqueuelen action.
func (f TxQueueLenFactory) Create(set Settings, settings map[string]any) (Action, error) {
	cfg, err := f.decode(settings)
	if err != nil {
		return nil, err
	}
	return remediation{newGuarded(&txQueueLenOp{cfg: cfg}, cfg.CommonConfig, &set)}, nil
}

type txQueueLenOp struct{ cfg TxQueueLenConfig }

func (o *txQueueLenOp) target(ev *Event) (Target, error) {
	t := Target{VM: ev.GroupValue(AttrVMName), Netns: o.cfg.Netns}
	name := ev.GroupValue(AttrInterface)
	if name == "" {
		return t, Refuse("the group has no %s; add it to the indicator's group_by", AttrInterface)
	}
	if err := CheckSafe(AttrInterface, name); err != nil {
		return t, err
	}
	t.Interface, t.Key = name, o.cfg.Netns+"/"+name
	if !allowedName(o.cfg.AllowedInterfaces, name) {
		return t, Refuse("interface %s is not in allowed_interfaces %v", name, o.cfg.AllowedInterfaces)
	}
	return t, nil
}

// next is the value to set after old, or a refusal when it would not
// raise it.
func (o *txQueueLenOp) next(iface string, old int) (int, error) {
	n := o.cfg.Set
	if o.cfg.Multiply != 0 {
		n = old * o.cfg.Multiply
	}
	n = min(n, o.cfg.Max)
	if n <= old {
		return old, Refuse("txqueuelen of %s is %d already; max %d", iface, old, o.cfg.Max)
	}
	return n, nil
}

func (o *txQueueLenOp) run(_ context.Context, t Target, _ *Event, dry bool) (Result, error) {
	link, err := openLinks(t.Netns)
	if err != nil {
		return Result{}, err
	}
	defer link.close()
	old, err := link.txQueueLen(t.Interface)
	if err != nil {
		return Result{}, err
	}
	res := Result{Old: strconv.Itoa(old)}
	n, err := o.next(t.Interface, old)
	if err != nil {
		return res, err
	}
	res.New = strconv.Itoa(n)
	if dry {
		return res, nil
	}
	if err := link.setTxQueueLen(t.Interface, n); err != nil {
		return res, err
	}
	// Report what the kernel holds now, not what was asked.
	now, err := link.txQueueLen(t.Interface)
	if err != nil {
		return res, err
	}
	res.New = strconv.Itoa(now)
	return res, nil
}
