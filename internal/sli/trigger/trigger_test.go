package trigger

import (
	"math"
	"strings"
	"testing"
	"time"
)

// nd marks an evaluation without data for 3 windows; st one without data
// in the window; nv one whose window holds no events (no value).
var (
	nd = math.Inf(-1)
	st = math.Inf(1)
	nv = math.NaN()
)

// run steps a machine once per second through values and returns one
// letter per step for the state after it (o ok, p pending, F firing, r
// recovering, n no_data) and the events: "+" fire, "-" resolved, "h" held.
func run(spec Spec, values []float64) (states, events string) {
	var m Machine
	t0 := time.Unix(1_700_000_000, 0)
	var s, e strings.Builder
	for i, v := range values {
		in := Input{Now: t0.Add(time.Duration(i) * time.Second), Value: v, HasValue: !math.IsNaN(v)}
		switch v {
		case nd:
			in = Input{Now: in.Now, NoData: true}
		case st:
			in = Input{Now: in.Now, Stale: true}
		}
		o := m.Step(&spec, in)
		s.WriteByte("opFrn"[m.State()])
		switch {
		case o.Fire:
			e.WriteByte('+')
		case o.Resolve:
			e.WriteByte('-')
		case o.Held:
			e.WriteByte('h')
		default:
			e.WriteByte('.')
		}
	}
	return s.String(), e.String()
}

// The ring-overflow trigger: above 0.001 for 3 evaluations,
// recover below 0.0006 for 1s, cooldown 30s.
var ringOverflow = Spec{Threshold: 0.001, Recover: 0.0006, For: 3, RecoverFor: time.Second, Cooldown: 30 * time.Second}

func TestStateMachine(t *testing.T) {
	const hi, mid, lo = 0.002, 0.0008, 0.0001
	tests := []struct {
		name         string
		spec         Spec
		values       []float64
		states, evts string
	}{
		{
			name:   "pending then firing after 3 evaluations, fires once",
			spec:   ringOverflow,
			values: []float64{lo, hi, hi, hi, hi, hi},
			states: "oppFFF", evts: "...+..",
		},
		{
			name:   "pending resets when the breach stops",
			spec:   ringOverflow,
			values: []float64{hi, hi, lo, hi, hi, lo},
			states: "ppoppo", evts: "......",
		},
		{
			name: "hysteresis: between the thresholds stays firing",
			spec: ringOverflow,
			// mid is under `above` but over `recover_below`.
			values: []float64{hi, hi, hi, mid, mid, mid, hi},
			states: "ppFFFFF", evts: "..+....",
		},
		{
			name: "recovering needs recover_for below recover_below",
			spec: ringOverflow,
			// Below at t3: recovering since t3; at t4 1s has passed: ok.
			values: []float64{hi, hi, hi, lo, lo, lo},
			states: "ppFroo", evts: "..+.-.",
		},
		{
			name:   "recovering falls back to firing without re-firing",
			spec:   ringOverflow,
			values: []float64{hi, hi, hi, lo, mid, lo, lo},
			states: "ppFrFro", evts: "..+...-",
		},
		{
			name: "cooldown holds the second episode's actions",
			spec: Spec{Threshold: 1, Recover: 1, For: 1, Cooldown: 5 * time.Second},
			// Fire at t0, resolved at t1; the episode at t2 is held until
			// t5, when the cooldown of 5s since t0 ends while still firing.
			values: []float64{2, 0, 2, 2, 2, 2, 2},
			states: "FoFFFFF", evts: "+-hhh+.",
		},
		{
			name: "a held episode that recovers during cooldown sends nothing",
			spec: Spec{Threshold: 1, Recover: 1, For: 1, Cooldown: 5 * time.Second},
			// t2 held, t3 recovers: no resolved event for a firing never sent.
			values: []float64{2, 0, 2, 0, 0, 0, 2},
			states: "FoFoooF", evts: "+-h...+",
		},
		{
			name:   "flapping input fires once",
			spec:   Spec{Threshold: 1, Recover: 1, For: 1, Cooldown: 30 * time.Second},
			values: []float64{2, 0, 2, 0, 2, 0, 2, 0, 2, 0},
			states: "FoFoFoFoFo", evts: "+-h.h.h.h.",
		},
		{
			name:   "flapping with for: 3 never fires",
			spec:   ringOverflow,
			values: []float64{hi, hi, lo, hi, hi, lo, hi, hi, lo},
			states: "ppoppoppo", evts: ".........",
		},
		{
			name:   "no_data from firing fires nothing and returns to ok",
			spec:   ringOverflow,
			values: []float64{hi, hi, hi, nd, nd, lo, hi},
			states: "ppFnnop", evts: "..+....",
		},
		{
			name: "silence before no_data holds the state",
			spec: ringOverflow,
			// Two stale windows keep firing (no recovery from silence),
			// then no_data.
			values: []float64{hi, hi, hi, st, st, nd},
			states: "ppFFFn", evts: "..+...",
		},
		{
			name:   "a stale window does not break a pending count",
			spec:   ringOverflow,
			values: []float64{hi, st, hi, hi},
			states: "pppF", evts: "...+",
		},
		{
			name: "an empty window neither breaches nor blocks recovery",
			spec: ringOverflow,
			// nv: the window has no events (e.g. an empty histogram).
			values: []float64{hi, nv, hi, hi, hi, nv, nv},
			states: "poppFro", evts: "....+.-",
		},
		{
			name:   "below trigger: lower is worse",
			spec:   Spec{Below: true, Threshold: 10, Recover: 20, For: 2},
			values: []float64{30, 5, 5, 15, 25},
			states: "opFFo", evts: "..+.-",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			states, evts := run(tt.spec, tt.values)
			if states != tt.states || evts != tt.evts {
				t.Errorf("states %s events %s, want %s %s", states, evts, tt.states, tt.evts)
			}
		})
	}
}

func TestTransitionsAreReported(t *testing.T) {
	var m Machine
	spec := Spec{Threshold: 1, Recover: 1, For: 1}
	now := time.Unix(0, 0)
	o := m.Step(&spec, Input{Now: now, NoData: true})
	if o.N != 1 || o.Transitions[0] != (Transition{OK, NoData}) {
		t.Fatalf("got %+v", o)
	}
	// Data returns above the threshold: no_data -> ok -> firing in one step.
	o = m.Step(&spec, Input{Now: now, Value: 5, HasValue: true})
	if o.N != 2 || o.Transitions[0] != (Transition{NoData, OK}) || o.Transitions[1] != (Transition{OK, Firing}) || !o.Fire {
		t.Fatalf("got %+v", o)
	}
}

func TestStateNames(t *testing.T) {
	for s, want := range map[State]string{OK: "ok", Pending: "pending", Firing: "firing", Recovering: "recovering", NoData: "no_data", 9: "unknown"} {
		if s.String() != want {
			t.Errorf("%d: %q", s, s.String())
		}
	}
}
