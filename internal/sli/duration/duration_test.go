package duration

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"1s", time.Second},
		{"500ms", 500 * time.Millisecond},
		{"1h30m", 90 * time.Minute},
		{"30d", 30 * Day},
		{"1d12h", 36 * time.Hour},
		{"0.5d", 12 * time.Hour},
		{"2w", 14 * Day},
		{"1.5s", 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "-1s", "+1s", "1", "d", "1x", "1..5d", "100000000000d", "1s-", "ms"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, got)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{time.Second, "1s"},
		{10 * time.Second, "10s"},
		{time.Minute, "1m"},
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{30 * Day, "30d"},
		{36 * time.Hour, "1d12h"},
		{1500 * time.Millisecond, "1.5s"},
		{500 * time.Millisecond, "500ms"},
		{time.Minute + 500*time.Millisecond, "1m500ms"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1s", "30d", "1h30m", "0.5d", "2w3d", "1.5s", "500ms", "-1s", "1e3s", "9999999999w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("Parse(%q) = %v: negative", s, d)
		}
		back, err := Parse(Format(d))
		if err != nil {
			t.Fatalf("Parse(Format(%v)=%q): %v", d, Format(d), err)
		}
		if back != d {
			t.Fatalf("round trip of %q: %v -> %q -> %v", s, d, Format(d), back)
		}
	})
}
