package vmmctl

import (
	"strings"
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Command
		err  string
	}{
		{`{"op":"pause","dir":"to_guest"}`, Command{Op: OpPause, Dir: ToGuest}, ""},
		{`{"op":"resume","dir":"both"}`, Command{Op: OpResume, Dir: Both}, ""},
		{`{"op":"delay","delay":"2ms"}`, Command{Op: OpDelay, Delay: 2 * time.Millisecond}, ""},
		{`{"op":"delay","delay":"0s"}`, Command{Op: OpDelay}, ""},
		{`{"op":"drop_every","dir":"from_guest","n":7}`, Command{Op: OpDropEvery, Dir: FromGuest, N: 7}, ""},
		{`{"op":"drop_every","dir":"to_guest"}`, Command{Op: OpDropEvery, Dir: ToGuest}, ""},
		{`{"op":"tap_filter","filter":"drop_all"}`, Command{Op: OpTapFilter, Filter: FilterDropAll}, ""},
		{`{"op":"stats"}`, Command{Op: OpStats}, ""},
		{`{"op":"pause"}`, Command{}, "dir must be"},
		{`{"op":"drop_every","dir":"both","n":2}`, Command{}, "dir must be"},
		{`{"op":"delay","delay":"-1ms"}`, Command{}, "outside"},
		{`{"op":"delay","delay":"1h"}`, Command{}, "outside"},
		{`{"op":"delay"}`, Command{}, "delay:"},
		{`{"op":"tap_filter","filter":"some"}`, Command{}, "filter must be"},
		{`{"op":"stats","dir":"to_guest"}`, Command{}, "takes no dir"},
		{`{"op":"pause","dir":"to_guest","n":3}`, Command{}, "takes no n"},
		{`{"op":"stats","delay":"1s"}`, Command{}, "takes no delay"},
		{`{"op":"stats","filter":"none"}`, Command{}, "takes no filter"},
		{`{"op":"reboot"}`, Command{}, "unknown op"},
		{`{"op":"stats","extra":1}`, Command{}, "unknown field"},
		{`{"op":"stats"} {"op":"stats"}`, Command{}, "trailing data"},
		{`not json`, Command{}, "decode request"},
		{``, Command{}, "decode request"},
		{`{"op":"stats"}` + strings.Repeat(" ", MaxLine), Command{}, "longer than"},
	} {
		got, err := ParseRequest([]byte(tc.line))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%.60q: err %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
}

func TestDirStatsSub(t *testing.T) {
	a := DirStats{FramesRead: 10, BytesRead: 1000, FramesWritten: 9, BytesWritten: 900, FramesDropped: 1, WriteErrors: 2, Paused: true, DropEvery: 10}
	b := DirStats{FramesRead: 4, BytesRead: 400, FramesWritten: 4, BytesWritten: 400, DropEvery: 3}
	want := DirStats{FramesRead: 6, BytesRead: 600, FramesWritten: 5, BytesWritten: 500, FramesDropped: 1, WriteErrors: 2, Paused: true, DropEvery: 10}
	if got := a.Sub(b); got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
}

// Whatever the line, the decoder returns a valid command or an error, and a
// valid command survives a round trip through the wire form.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"pause","dir":"to_guest"}`, `{"op":"delay","delay":"1ms"}`,
		`{"op":"drop_every","dir":"from_guest","n":3}`, `{"op":"tap_filter","filter":"none"}`,
		`{"op":"stats"}`, `{}`, `[]`, `{"op":"delay","delay":"1e9ns"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseRequest(line)
		if err != nil {
			return
		}
		req := Request{Op: c.Op, Dir: c.Dir, N: c.N, Filter: c.Filter}
		if c.Op == OpDelay {
			req.Delay = c.Delay.String()
		}
		again, err := req.Validate()
		if err != nil || again != c {
			t.Fatalf("%q -> %+v, round trip %+v, %v", line, c, again, err)
		}
	})
}
