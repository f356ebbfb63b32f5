//go:build linux

package pathtest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/receiver/vnetguestreceiver"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver"
)

// startHost runs a vnet_host traces receiver on lab's taps into sink. Only
// its own: another package's lab on this host, running at the same time,
// would otherwise fill the receiver's maps and ring buffer with its floods.
func startHost(t *testing.T, lab *vmlab.Lab, sink consumer.Traces, tune func(*vnethostreceiver.Config)) {
	t.Helper()
	f := vnethostreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*vnethostreceiver.Config)
	cfg.Interfaces.Include = nil
	for _, vm := range lab.AllVMs() {
		cfg.Interfaces.Include = append(cfg.Interfaces.Include, vm.HostTap)
	}
	cfg.Discovery.Interval = 500 * time.Millisecond
	cfg.Tracing.FlushInterval = 100 * time.Millisecond
	tune(cfg)
	start(t, f, cfg, sink)
}

// startGuest runs a vnet_guest traces receiver on a lab VM into sink.
func startGuest(t *testing.T, vm *vmlab.VM, sink consumer.Traces, tune func(*vnetguestreceiver.Config)) {
	t.Helper()
	f := vnetguestreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*vnetguestreceiver.Config)
	cfg.NetNS = vm.NetnsPath()
	cfg.Interfaces.Include = []string{vm.GuestDev}
	cfg.Tracing.FlushInterval = 100 * time.Millisecond
	tune(cfg)
	start(t, f, cfg, sink)
}

func start(t *testing.T, f receiver.Factory, cfg component.Config, sink consumer.Traces) {
	t.Helper()
	r, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
}

// span is a span with what the tests look at.
type span struct {
	name         string
	trace        pcommon.TraceID
	id, parent   pcommon.SpanID
	start, end   time.Time
	attrs        pcommon.Map
	errorMessage string
	service      string
}

func (s span) str(k string) string {
	if v, ok := s.attrs.Get(k); ok {
		return v.AsString()
	}
	return ""
}

func (s span) int(k string) int64 {
	if v, ok := s.attrs.Get(k); ok {
		return v.Int()
	}
	return 0
}

// spans flattens what a sink received.
func spans(sink *consumertest.TracesSink) []span {
	var out []span
	for _, td := range sink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					x := span{
						name: s.Name(), trace: s.TraceID(), id: s.SpanID(), parent: s.ParentSpanID(),
						start: s.StartTimestamp().AsTime(), end: s.EndTimestamp().AsTime(), attrs: s.Attributes(),
						service: svc.Str(),
					}
					if s.Status().Code() == ptrace.StatusCodeError {
						x.errorMessage = s.Status().Message()
					}
					out = append(out, x)
				}
			}
		}
	}
	return out
}

// flowTo keeps the spans of transport packets from the lab's client to vm.
func flowTo(lab *vmlab.Lab, vm *vmlab.VM, transport string) func(span) bool {
	return func(s span) bool {
		return s.str("network.transport") == transport && s.str("source.address") == lab.ClientIP.String() &&
			s.str("destination.address") == vm.IP.String()
	}
}

// byTrace groups spans by trace id, each trace's spans in time order.
func byTrace(ss []span, keep func(span) bool) map[pcommon.TraceID][]span {
	out := map[pcommon.TraceID][]span{}
	for _, s := range ss {
		if keep(s) {
			out[s.trace] = append(out[s.trace], s)
		}
	}
	for _, t := range out {
		sort.SliceStable(t, func(i, j int) bool { return t[i].start.Before(t[j].start) })
	}
	return out
}

// settle waits until sink stops growing for quiet.
func settle(sink *consumertest.TracesSink, quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		if n := sink.SpanCount(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
