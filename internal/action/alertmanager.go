package action

import (
	"strconv"
	"strings"
	"time"
)

// amAlert is one alert of Alertmanager's v2 API (POST /api/v2/alerts).
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// amLabelNames maps the attributes whose label names are fixed; other
// attributes get LabelName() (dots and other characters become _).
var amLabelNames = map[string]string{
	AttrVMName:    "vm_name",
	AttrInterface: "interface",
}

// LabelName turns an attribute name into an Alertmanager label name,
// which matches [a-zA-Z_][a-zA-Z0-9_]*: vm.name is vm_name,
// network.interface.name is interface, process.pid is process_pid.
func LabelName(attr string) string {
	if n, ok := amLabelNames[attr]; ok {
		return n
	}
	var b strings.Builder
	for i, r := range attr {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// alert builds the event's alert: labels identify it (alertname, the
// group), annotations describe it. A resolved event carries the firing
// one's startsAt and its own time as endsAt.
func (o *webhookOp) alert(ev *Event) amAlert {
	labels := make(map[string]string, len(ev.Group)+1)
	for _, a := range ev.Group {
		labels[LabelName(a.Key)] = a.Value
	}
	labels["alertname"] = ev.Trigger
	a := amAlert{
		Labels: labels,
		Annotations: map[string]string{
			"indicator": ev.Indicator,
			"value":     strconv.FormatFloat(ev.Value, 'g', -1, 64),
			"threshold": strconv.FormatFloat(ev.Threshold, 'g', -1, 64),
			"window":    ev.Window.String(),
		},
		StartsAt:     o.startsAt(ev).UTC(),
		GeneratorURL: o.cfg.GeneratorURL,
	}
	if ev.State == Resolved {
		end := ev.Time.UTC()
		a.EndsAt = &end
	}
	return a
}
