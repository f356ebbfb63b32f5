// Package trigger is the state machine that turns an indicator's value
// over a window into firing and resolved events, with hysteresis,
// cooldown and no-data detection:
//
//	       breach             breach on `for` consecutive evaluations
//	  ok ──────────▶ pending ─────────────────────────────────────▶ firing (actions run once)
//	  ▲ ▲              │ no breach                          healthy │  ▲
//	  │ └──────────────┘                                            ▼  │ not healthy
//	  └───────────── healthy for recover_for ──────────────── recovering
//
//	any state ── no data for 3 windows ──▶ no_data ── data ──▶ ok
//
// A window without any data point holds the state: silence is not health.
// "breach" is value > above (or < below); "healthy" is value <
// recover_below (or > recover_above). Between the two thresholds a firing
// trigger stays firing. Actions run once per episode when firing is
// entered; if the previous run is younger than the cooldown they are held
// and run when the cooldown ends, if the episode is still firing then.
package trigger // import "github.com/vnetpath/vnetpath/internal/sli/trigger"

import "time"

// State is a trigger's state for one group. The numbers are the value of
// the vnet.trigger.state metric.
type State uint8

const (
	OK         State = 0
	Pending    State = 1
	Firing     State = 2
	Recovering State = 3
	NoData     State = 4
)

var names = [...]string{"ok", "pending", "firing", "recovering", "no_data"}

func (s State) String() string {
	if int(s) < len(names) {
		return names[s]
	}
	return "unknown"
}

// Spec is a trigger's configuration.
type Spec struct {
	// Below makes lower values worse: breach is value < Threshold and
	// healthy is value > Recover.
	Below      bool
	Threshold  float64
	Recover    float64
	For        int // consecutive breaching evaluations to fire; >= 1
	RecoverFor time.Duration
	Cooldown   time.Duration
}

func (s *Spec) breach(v float64) bool {
	if s.Below {
		return v < s.Threshold
	}
	return v > s.Threshold
}

func (s *Spec) healthy(v float64) bool {
	if s.Below {
		return v > s.Recover
	}
	return v < s.Recover
}

// Input is one evaluation of a group.
type Input struct {
	Now time.Time
	// Value is the indicator over the trigger's window; HasValue is false
	// when the window holds no events to compute it from (an empty
	// histogram), which neither breaches nor prevents recovery.
	Value    float64
	HasValue bool
	// Stale is set when no data point arrived within the window: the
	// machine holds its state rather than read silence as health.
	Stale bool
	// NoData is set when the group saw no data points for 3 windows.
	NoData bool
}

// Transition is one change of state.
type Transition struct{ From, To State }

// Outcome is what one step did.
type Outcome struct {
	Transitions [2]Transition
	N           int // transitions used
	// Fire: run the actions with a firing event now.
	Fire bool
	// Held: firing was entered, or is still on, while the cooldown holds
	// the actions back.
	Held bool
	// Resolve: deliver a resolved event; the episode's firing event went out.
	Resolve bool
}

func (o *Outcome) add(from, to State) {
	o.Transitions[o.N] = Transition{from, to}
	o.N++
}

// Machine is one group's trigger state; the zero value is ok.
type Machine struct {
	state     State
	count     int       // consecutive breaching evaluations
	since     time.Time // start of recovering
	lastFire  time.Time // last time actions ran
	notified  bool      // actions ran for the current episode
	everFired bool
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

func (m *Machine) set(o *Outcome, to State) {
	o.add(m.state, to)
	m.state = to
}

// Step advances the machine by one evaluation.
func (m *Machine) Step(spec *Spec, in Input) Outcome {
	var o Outcome
	if in.NoData {
		if m.state != NoData {
			// An episode cut short by missing data fires nothing further.
			m.set(&o, NoData)
			m.count, m.notified = 0, false
		}
		return o
	}
	if in.Stale {
		return o
	}
	if m.state == NoData {
		m.set(&o, OK)
	}
	breach := in.HasValue && spec.breach(in.Value)
	healthy := !in.HasValue || spec.healthy(in.Value)
	switch m.state {
	case OK, Pending:
		if !breach {
			if m.state == Pending {
				m.set(&o, OK)
			}
			m.count = 0
			return o
		}
		m.count++
		if m.count < spec.For {
			if m.state == OK {
				m.set(&o, Pending)
			}
			return o
		}
		m.count = 0
		m.set(&o, Firing)
		m.notified = false
		m.maybeFire(spec, in.Now, &o)
	case Firing:
		if !healthy {
			m.maybeFire(spec, in.Now, &o)
			return o
		}
		if spec.RecoverFor <= 0 {
			m.resolve(&o)
			return o
		}
		m.set(&o, Recovering)
		m.since = in.Now
	case Recovering:
		if !healthy {
			m.set(&o, Firing)
			m.maybeFire(spec, in.Now, &o)
			return o
		}
		if in.Now.Sub(m.since) >= spec.RecoverFor {
			m.resolve(&o)
		}
	}
	return o
}

// maybeFire runs the episode's actions unless they already ran or the
// cooldown since the last run holds them.
func (m *Machine) maybeFire(spec *Spec, now time.Time, o *Outcome) {
	if m.notified {
		return
	}
	if m.everFired && now.Sub(m.lastFire) < spec.Cooldown {
		o.Held = true
		return
	}
	o.Fire = true
	m.notified, m.everFired, m.lastFire = true, true, now
}

func (m *Machine) resolve(o *Outcome) {
	m.set(o, OK)
	o.Resolve = m.notified
	m.notified, m.count = false, 0
}
