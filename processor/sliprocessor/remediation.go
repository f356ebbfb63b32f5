package sliprocessor

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/vnetpath/vnetpath/internal/action"
)

// vnet.remediation.actions and its attributes (besides vnet.trigger.name
// and the target's vm.name and network.interface.name).
const (
	metricRemediation = "vnet.remediation.actions"
	attrActionName    = "vnet.action.name"
	attrActionType    = "vnet.action.type"
	attrActionOutcome = "vnet.action.outcome"
)

type remediationKey struct {
	action, typ, trigger, outcome string
	vm, iface                     string
}

type remediationCount struct {
	n     int64
	start time.Time // when the series was created: its start timestamp
	last  time.Time // when it last moved, for expiry
}

// remediations counts action outcomes for vnet.remediation.actions. The
// executor's workers count concurrently with the evaluation loop, so it
// has a lock of its own rather than the processor's.
type remediations struct {
	mu       sync.Mutex
	series   map[remediationKey]*remediationCount
	max      int
	idle     time.Duration
	overflow int64 // outcomes not counted because max series were held
}

func newRemediations(maxSeries int, idle time.Duration) *remediations {
	return &remediations{series: map[remediationKey]*remediationCount{}, max: maxSeries, idle: idle}
}

// add counts one outcome. Outcomes that never ran (dropped, held) name
// the event's group as their target.
func (r *remediations) add(rep *action.Report, now time.Time) {
	k := remediationKey{
		action: rep.Action, typ: rep.Type, trigger: rep.Event.Trigger, outcome: string(rep.Outcome),
		vm: rep.Result.Target.VM, iface: rep.Result.Target.Interface,
	}
	if k.vm == "" {
		k.vm = rep.Event.GroupValue(action.AttrVMName)
	}
	if k.iface == "" {
		k.iface = rep.Event.GroupValue(action.AttrInterface)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.series[k]
	if c == nil {
		if len(r.series) >= r.max {
			r.overflow++
			return
		}
		c = &remediationCount{start: now}
		r.series[k] = c
	}
	c.n++
	c.last = now
}

// emit appends every series to the output, drops the ones idle for the
// idle timeout and returns the outcomes lost to the bound since the last
// call.
func (r *remediations) emit(o *output, now time.Time) (overflow int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]remediationKey, 0, len(r.series))
	for k, c := range r.series {
		if now.Sub(c.last) >= r.idle {
			delete(r.series, k)
			continue
		}
		keys = append(keys, k)
	}
	if o == nil {
		overflow, r.overflow = r.overflow, 0
		return overflow
	}
	// Sorted, so that batches are deterministic.
	slices.SortFunc(keys, func(a, b remediationKey) int {
		return cmp.Or(cmp.Compare(a.action, b.action), cmp.Compare(a.trigger, b.trigger), cmp.Compare(a.vm, b.vm),
			cmp.Compare(a.iface, b.iface), cmp.Compare(a.outcome, b.outcome))
	})
	for _, k := range keys {
		c := r.series[k]
		dp := o.actions.AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(c.start))
		dp.SetTimestamp(o.ts)
		dp.SetIntValue(c.n)
		a := dp.Attributes()
		a.PutStr(attrActionName, k.action)
		a.PutStr(attrActionType, k.typ)
		a.PutStr(attrTrigger, k.trigger)
		a.PutStr(attrActionOutcome, k.outcome)
		if k.vm != "" {
			a.PutStr(action.AttrVMName, k.vm)
		}
		if k.iface != "" {
			a.PutStr(action.AttrInterface, k.iface)
		}
	}
	overflow, r.overflow = r.overflow, 0
	return overflow
}
