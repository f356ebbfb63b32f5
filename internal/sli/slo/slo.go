// Package slo holds the error-budget arithmetic of service level
// objectives: burn rates, the budget left over a period, and multiwindow
// burn-rate alerts as in the Google SRE workbook, chapter 5 "Alerting on
// SLOs".
package slo // import "github.com/vnetpath/vnetpath/internal/sli/slo"

import (
	"time"

	"github.com/vnetpath/vnetpath/internal/sli/duration"
)

// BurnRateAlert fires while the burn rate over both windows exceeds Factor.
type BurnRateAlert struct {
	Long   time.Duration
	Short  time.Duration
	Factor float64
}

// WorkbookPeriod is the period the workbook's factors are computed for.
const WorkbookPeriod = 30 * duration.Day

// workbook is Table 5-8 of the SRE workbook ("Recommended parameters for
// a 99.9% SLO alerting configuration"): page at 2 % of a 30-day budget
// spent in 1h, page at 5 % in 6h, ticket at 10 % in 3d.
var workbook = [...]BurnRateAlert{
	{Long: time.Hour, Short: 5 * time.Minute, Factor: 14.4},
	{Long: 6 * time.Hour, Short: 30 * time.Minute, Factor: 6},
	{Long: 3 * duration.Day, Short: 6 * time.Hour, Factor: 1},
}

// DefaultAlerts returns the workbook's pairs for a period. The factors
// keep the workbook's share of budget spent per long window, so they scale
// with period/30d (a 7d period pages at 14.4*7/30 = 3.36); a pair whose
// long window exceeds the period is left out.
func DefaultAlerts(period time.Duration) []BurnRateAlert {
	out := make([]BurnRateAlert, 0, len(workbook))
	for _, a := range workbook {
		if a.Long > period {
			continue
		}
		a.Factor *= float64(period) / float64(WorkbookPeriod) // exactly 1 for 30d
		out = append(out, a)
	}
	return out
}

// ErrorRatio is bad/total, 0 when there were no events.
func ErrorRatio(bad, total float64) float64 {
	if !(total > 0) {
		return 0
	}
	return bad / total
}

// BurnRate is how fast the budget burns over a window: the observed error
// ratio over the allowed one (1 - target). 1 spends exactly the budget
// over the period.
func BurnRate(bad, total, target float64) float64 {
	return ErrorRatio(bad, total) / (1 - target)
}

// BudgetRemaining is the share of the period's error budget left: 1 when
// nothing failed, 0 when the allowed ratio was reached, negative beyond.
func BudgetRemaining(bad, total, target float64) float64 {
	return 1 - BurnRate(bad, total, target)
}

// Firing reports whether a burn-rate pair alerts: both windows burn faster
// than the factor, so the long window proves significance and the short
// one proves the burn is still going on.
func (a BurnRateAlert) Firing(longBurn, shortBurn float64) bool {
	return longBurn > a.Factor && shortBurn > a.Factor
}
