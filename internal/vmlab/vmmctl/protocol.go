// Package vmmctl holds the control protocol of the lab VMM: JSON lines over a
// unix socket, one request line answered by one response line.
package vmmctl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Direction names one half of the VMM's queue pair.
type Direction string

const (
	// ToGuest moves frames from the host tap to the guest NIC.
	ToGuest Direction = "to_guest"
	// FromGuest moves frames from the guest NIC to the host tap.
	FromGuest Direction = "from_guest"
	// Both addresses both halves at once (pause and resume only).
	Both Direction = "both"
)

// Op is the operation a request asks for.
type Op string

const (
	OpPause     Op = "pause"
	OpResume    Op = "resume"
	OpDelay     Op = "delay"      // the worker waits this long before dequeuing each frame, both directions
	OpDropEvery Op = "drop_every" // drop every Nth frame of a direction, 0 = off
	OpTapFilter Op = "tap_filter" // TUNSETFILTEREBPF on the host tap
	OpStats     Op = "stats"
)

// FilterMode selects the socket-filter program attached to the host tap.
type FilterMode string

const (
	FilterNone    FilterMode = "none"     // no program: every frame passes
	FilterDropAll FilterMode = "drop_all" // a program returning 0: TAP_FILTER drops
)

// MaxLine bounds a request or response line.
const MaxLine = 64 << 10

// maxDelay keeps a typo from wedging the worker for hours.
const maxDelay = 10 * time.Second

// Request is one command line as sent on the wire.
type Request struct {
	Op     Op         `json:"op"`
	Dir    Direction  `json:"dir,omitempty"`
	Delay  string     `json:"delay,omitempty"` // Go duration, e.g. "2ms"
	N      uint64     `json:"n,omitempty"`
	Filter FilterMode `json:"filter,omitempty"`
}

// Command is a validated request.
type Command struct {
	Op     Op
	Dir    Direction
	Delay  time.Duration
	N      uint64
	Filter FilterMode
}

// DirStats counts one direction of the worker.
type DirStats struct {
	FramesRead    uint64 `json:"frames_read"`
	BytesRead     uint64 `json:"bytes_read"`
	FramesWritten uint64 `json:"frames_written"`
	BytesWritten  uint64 `json:"bytes_written"`
	FramesDropped uint64 `json:"frames_dropped"` // by drop-every-Nth
	WriteErrors   uint64 `json:"write_errors"`
	Paused        bool   `json:"paused"`
	DropEvery     uint64 `json:"drop_every"`
}

// Stats is the VMM's ground truth.
type Stats struct {
	ToGuest   DirStats   `json:"to_guest"`
	FromGuest DirStats   `json:"from_guest"`
	SIGUSR1   uint64     `json:"sigusr1"`
	WorkerTID int        `json:"worker_tid"`
	Delay     string     `json:"delay"`
	TapFilter FilterMode `json:"tap_filter"`
}

// Response answers one request.
type Response struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Stats *Stats `json:"stats,omitempty"`
}

// ParseRequest decodes and validates one request line.
func ParseRequest(line []byte) (Command, error) {
	if len(line) > MaxLine {
		return Command{}, fmt.Errorf("request longer than %d bytes", MaxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return Command{}, fmt.Errorf("decode request: %w", err)
	}
	if dec.More() {
		return Command{}, errors.New("decode request: trailing data after the JSON object")
	}
	return r.Validate()
}

// Validate checks the fields an operation needs and rejects the others.
func (r Request) Validate() (Command, error) {
	c := Command{Op: r.Op, Dir: r.Dir, N: r.N, Filter: r.Filter}
	var dirOK bool
	switch r.Op {
	case OpPause, OpResume:
		dirOK = r.Dir == ToGuest || r.Dir == FromGuest || r.Dir == Both
		if !dirOK {
			return Command{}, fmt.Errorf("%s: dir must be %q, %q or %q, got %q", r.Op, ToGuest, FromGuest, Both, r.Dir)
		}
	case OpDropEvery:
		dirOK = r.Dir == ToGuest || r.Dir == FromGuest
		if !dirOK {
			return Command{}, fmt.Errorf("%s: dir must be %q or %q, got %q", r.Op, ToGuest, FromGuest, r.Dir)
		}
	case OpDelay:
		d, err := time.ParseDuration(r.Delay)
		if err != nil {
			return Command{}, fmt.Errorf("delay: %w", err)
		}
		if d < 0 || d > maxDelay {
			return Command{}, fmt.Errorf("delay: %s outside [0, %s]", d, maxDelay)
		}
		c.Delay = d
	case OpTapFilter:
		if r.Filter != FilterNone && r.Filter != FilterDropAll {
			return Command{}, fmt.Errorf("tap_filter: filter must be %q or %q, got %q", FilterNone, FilterDropAll, r.Filter)
		}
	case OpStats:
	default:
		return Command{}, fmt.Errorf("unknown op %q (want pause, resume, delay, drop_every, tap_filter or stats)", r.Op)
	}
	if !dirOK && r.Dir != "" {
		return Command{}, fmt.Errorf("%s: takes no dir", r.Op)
	}
	if r.Op != OpDelay && r.Delay != "" {
		return Command{}, fmt.Errorf("%s: takes no delay", r.Op)
	}
	if r.Op != OpDropEvery && r.N != 0 {
		return Command{}, fmt.Errorf("%s: takes no n", r.Op)
	}
	if r.Op != OpTapFilter && r.Filter != "" {
		return Command{}, fmt.Errorf("%s: takes no filter", r.Op)
	}
	return c, nil
}

// Sub returns the change of the counters since o; the settings keep s's value.
func (s DirStats) Sub(o DirStats) DirStats {
	d := s
	d.FramesRead -= o.FramesRead
	d.BytesRead -= o.BytesRead
	d.FramesWritten -= o.FramesWritten
	d.BytesWritten -= o.BytesWritten
	d.FramesDropped -= o.FramesDropped
	d.WriteErrors -= o.WriteErrors
	return d
}
