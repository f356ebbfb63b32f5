//go:build linux

package vnethostreceiver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver/internal/metadata"
)

// closingSink counts the spans it gets after it was closed: the collector
// has shut down the traces exporter behind it by then.
type closingSink struct {
	consumertest.TracesSink
	closed atomic.Bool
	late   atomic.Int64
}

func (c *closingSink) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if c.closed.Load() {
		c.late.Add(int64(td.SpanCount()))
		return nil
	}
	return c.TracesSink.ConsumeTraces(ctx, td)
}

// TestTracesStopWithTheirPipeline: a metrics and a traces pipeline share one
// instance, and the collector may shut the traces exporter down before the
// metrics pipeline lets the instance go. The traces receiver's shutdown
// hands over every span assembled so far (one tap.enqueue per datagram
// sent), and none come after it while the probes still run for metrics.
func TestTracesStopWithTheirPipeline(t *testing.T) {
	testenv.RequireRoot(t)
	lab := vmlab.NewT(t, vmlab.Options{})
	vm := lab.VM(0)
	cfg := labConfig()
	cfg.Tracing.SamplingRatio = 1
	cfg.Tracing.FlushInterval = 100 * time.Millisecond
	f := NewFactory()
	set := receivertest.NewNopSettings(metadata.Type)
	ctx := context.Background()
	metrics, err := f.CreateMetrics(ctx, set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	sink := new(closingSink)
	traces, err := f.CreateTraces(ctx, set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, metrics.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, traces.Start(ctx, componenttest.NewNopHost()))
	inst := instanceFor(cfg, set)
	require.Eventually(t, func() bool {
		for _, d := range inst.engine.attribution().vmFacing {
			if d.name == vm.HostTap && d.vm.name == vm.Name {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "discovery names the tap")

	const n = 50
	udpToGuest(t, lab, vm, n, 2000)
	require.NoError(t, traces.Shutdown(ctx))
	sink.closed.Store(true)
	require.Equal(t, n, enqueues(sink.AllTraces(), vm), "every datagram's tap.enqueue, sent by the traces shutdown at the latest")

	udpToGuest(t, lab, vm, n, 2000)
	time.Sleep(5 * cfg.Tracing.FlushInterval)
	require.Zero(t, sink.late.Load(), "spans sent after the traces pipeline stopped")
	require.NoError(t, metrics.Shutdown(ctx))
}

// enqueues counts the tap.enqueue spans of UDP to vm.
func enqueues(all []ptrace.Traces, vm *vmlab.VM) int {
	return countSpans(all, func(sp ptrace.Span) bool {
		a := sp.Attributes().AsRaw()
		return sp.Name() == "tap.enqueue" && a["network.transport"] == "udp" && a["destination.address"] == vm.IP.String()
	})
}
