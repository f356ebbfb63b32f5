package slo

import (
	"math"
	"testing"
	"time"

	"github.com/vnetpath/vnetpath/internal/sli/duration"
)

func TestDefaultAlertsWorkbook(t *testing.T) {
	got := DefaultAlerts(30 * duration.Day)
	want := []BurnRateAlert{
		{time.Hour, 5 * time.Minute, 14.4},
		{6 * time.Hour, 30 * time.Minute, 6},
		{3 * duration.Day, 6 * time.Hour, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pair %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDefaultAlertsScaleWithPeriod(t *testing.T) {
	// 7d: 14.4*7/30 = 3.36, 6*7/30 = 1.4, 1*7/30 = 0.2333...
	got := DefaultAlerts(7 * duration.Day)
	want := []float64{3.36, 1.4, 7.0 / 30}
	if len(got) != len(want) {
		t.Fatalf("7d period: %d pairs, want %d", len(got), len(want))
	}
	for i, w := range want {
		if math.Abs(got[i].Factor-w) > 1e-12 {
			t.Errorf("pair %d factor %v, want %v", i, got[i].Factor, w)
		}
	}
	// 2d: the 3d/6h ticket pair does not fit; the others keep their
	// windows, with factors 14.4*2/30 = 0.96 and 6*2/30 = 0.4.
	got = DefaultAlerts(2 * duration.Day)
	if len(got) != 2 {
		t.Fatalf("2d period: %d pairs, want 2", len(got))
	}
	for i, w := range []BurnRateAlert{{time.Hour, 5 * time.Minute, 0.96}, {6 * time.Hour, 30 * time.Minute, 0.4}} {
		if got[i].Long != w.Long || got[i].Short != w.Short || math.Abs(got[i].Factor-w.Factor) > 1e-12 {
			t.Errorf("2d pair %d: %+v, want %+v", i, got[i], w)
		}
	}
}

// The workbook's own example: a 99.9 % SLO over 30 days allows 0.1 % of
// errors. A 1h window with 1.44 % errors burns 1.44/0.1 = 14.4x and has
// spent 14.4 * 1h / 720h = 2 % of the month's budget.
func TestBurnRateWorkbookExample(t *testing.T) {
	const target = 0.999
	// 100 000 events, 1 440 bad: 0.0144 / 0.001 = 14.4.
	if got := BurnRate(1440, 100000, target); math.Abs(got-14.4) > 1e-9 {
		t.Errorf("burn rate %v, want 14.4", got)
	}
	// Over the month, 2 % of the budget spent: 720h of 100 000 events/h,
	// 72 000 000 events allowing 72 000 errors; 1 440 spent -> 98 % left.
	if got := BudgetRemaining(1440, 72_000_000, target); math.Abs(got-0.98) > 1e-9 {
		t.Errorf("budget remaining %v, want 0.98", got)
	}
	// A 1h total outage in that month: 100 000 bad of 72 000 000, an error
	// ratio of 1/720 against 0.001 allowed: 1000/720 = 138.9 % of the
	// budget spent, remaining 1 - 1000/720 = -0.389.
	if got := BudgetRemaining(100000, 72_000_000, target); math.Abs(got-(1-1000.0/720)) > 1e-9 {
		t.Errorf("budget after a 1h outage %v, want %v", got, 1-1000.0/720)
	}
	if got := BurnRate(0, 0, target); got != 0 {
		t.Errorf("no events: burn %v, want 0", got)
	}
	if got := BudgetRemaining(0, 0, target); got != 1 {
		t.Errorf("no events: remaining %v, want 1", got)
	}
}

func TestFiringNeedsBothWindows(t *testing.T) {
	a := BurnRateAlert{Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4}
	tests := []struct {
		long, short float64
		want        bool
	}{
		{15, 20, true},
		{15, 10, false}, // the burn stopped: short window recovered
		{10, 20, false}, // a blip: not significant over the hour
		{14.4, 14.4, false},
	}
	for _, tt := range tests {
		if got := a.Firing(tt.long, tt.short); got != tt.want {
			t.Errorf("Firing(%v, %v) = %v, want %v", tt.long, tt.short, got, tt.want)
		}
	}
}
