package sliprocessor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/vnetpath/vnetpath/processor/sliprocessor/internal/metadatatest"
)

// webhookServer records the bodies posted to it.
type webhookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newWebhookServer(t *testing.T) *webhookServer {
	t.Helper()
	s := &webhookServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *webhookServer) posts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// withWebhook is ringOverflowTrigger firing at the first breach into a
// webhook and the log action.
func withWebhook(url, extra string) string {
	return tapDropRatio + fmt.Sprintf(`
triggers:
  - {name: ring-overflow, indicator: tap_drop_ratio, window: 1s, above: 0.001, for: 1,
     recover_below: 0.0006, cooldown: 10s, actions: [page, log]}
actions:
  page: {type: webhook, endpoint: %q, format: alertmanager}
`, url) + extra
}

// ran waits until the executor reported n outcomes in all.
func (h *harness) ran(n int64) {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		h.p.remediations.mu.Lock()
		defer h.p.remediations.mu.Unlock()
		var total int64
		for _, c := range h.p.remediations.series {
			total += c.n
		}
		return total >= n
	}, 10*time.Second, time.Millisecond, "fewer than %d action outcomes", n)
}

// actionCounts reads vnet.remediation.actions of a batch as
// "action/type/outcome" -> value, checking the sum's shape.
func actionCounts(t *testing.T, md pmetric.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != metricRemediation {
					continue
				}
				require.Equal(t, pmetric.MetricTypeSum, m.Type())
				require.True(t, m.Sum().IsMonotonic())
				require.Equal(t, pmetric.AggregationTemporalityCumulative, m.Sum().AggregationTemporality())
				for _, dp := range m.Sum().DataPoints().All() {
					a := dp.Attributes().AsRaw()
					assert.Equal(t, "ring-overflow", a[attrTrigger])
					assert.Equal(t, "web-1", a["vm.name"])
					assert.Equal(t, "vnet0", a["network.interface.name"])
					assert.NotZero(t, dp.StartTimestamp())
					out[fmt.Sprintf("%s/%s/%s", a[attrActionName], a[attrActionType], a[attrActionOutcome])] = dp.IntValue()
				}
			}
		}
	}
	return out
}

// Every outcome goes downstream as vnet.remediation.actions, a cumulative
// sum per action, type, trigger, outcome and target: a firing and a
// resolved run, then a second episode held by the cooldown.
func TestRemediationActionsMetric(t *testing.T) {
	hook := newWebhookServer(t)
	h := newHarness(t, withWebhook(hook.URL, ""))
	tx, drops := 0.0, 0.0
	second := func(sent, dropped float64) {
		tx, drops = tx+sent, drops+dropped
		feedTap(h, tx, drops)
		h.tick(1)
	}
	second(0, 0)
	second(998, 2) // firing: page and log run
	h.ran(2)
	second(1000, 0) // resolved: page and log run again
	h.ran(4)
	second(998, 2) // firing again within the 10s cooldown: held
	second(1000, 0)
	assert.Equal(t, map[string]int64{
		"log/log/ok": 2, "page/webhook/ok": 2, "log/log/held": 1, "page/webhook/held": 1,
	}, actionCounts(t, h.last()))
	assert.Len(t, hook.posts(), 2, "firing and resolved; the held episode sent nothing")

	metadatatest.AssertEqualProcessorSliActions(t, h.tel, []metricdata.DataPoint[int64]{
		actionPoint("page", "webhook", "firing", "ok", 1), actionPoint("page", "webhook", "resolved", "ok", 1),
		actionPoint("log", "log", "firing", "ok", 1), actionPoint("log", "log", "resolved", "ok", 1),
		actionPoint("page", "webhook", "firing", "held", 1), actionPoint("log", "log", "firing", "held", 1),
	}, metricdatatest.IgnoreTimestamp())
}

func actionPoint(name, typ, state, outcome string, n int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Value: n, Attributes: attribute.NewSet(attribute.String("action", name),
		attribute.String("type", typ), attribute.String("state", state), attribute.String("outcome", outcome))}
}

// In a processor-wide dry run the actions work out what they would do and
// send nothing; the outcome is dry_run, logged and counted.
func TestDryRunReachesActionsAndSendsNothing(t *testing.T) {
	hook := newWebhookServer(t)
	h := newHarness(t, withWebhook(hook.URL, "dry_run: true\n"))
	feedTap(h, 0, 0)
	h.tick(1)
	feedTap(h, 998, 2)
	h.tick(1)
	h.ran(2)
	h.tick(1)
	assert.Equal(t, map[string]int64{"log/log/dry_run": 1, "page/webhook/dry_run": 1}, actionCounts(t, h.last()))
	assert.Empty(t, hook.posts())
	var detail string
	for _, e := range h.logs.FilterMessage("sli dry run: action not run").All() {
		if e.ContextMap()["action"] == "page" {
			detail = e.ContextMap()["detail"].(string)
		}
	}
	assert.Regexp(t, `^POST \d+ bytes \(alertmanager\) to http://`, detail)
	assert.Empty(t, h.logs.FilterMessage("sli trigger firing").All(), "the log action logs nothing in a dry run")
}

// The audit file gets a record per run, with the processor's outcomes.
func TestProcessorAuditFile(t *testing.T) {
	hook := newWebhookServer(t)
	path := filepath.Join(t.TempDir(), "audit", "actions.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	h := newHarness(t, withWebhook(hook.URL, fmt.Sprintf("audit: {path: %s, max_bytes: 65536, max_backups: 1}\n", path)))
	feedTap(h, 0, 0)
	h.tick(1)
	feedTap(h, 998, 2)
	h.tick(1)
	h.ran(2)
	feedTap(h, 1998, 2)
	h.tick(1)
	h.stop()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		got = append(got, fmt.Sprintf("%s %s %s %s", rec["action"], rec["state"], rec["outcome"], rec["target"].(map[string]any)["vm.name"]))
	}
	assert.ElementsMatch(t, []string{"log firing ok web-1", "page firing ok web-1", "log resolved ok web-1", "page resolved ok web-1"}, got)
}

// hangingEndpoint accepts webhook posts and answers none until released.
type hangingEndpoint struct {
	*httptest.Server
	requests atomic.Int32
	release  chan struct{}
	once     sync.Once
}

func newHangingEndpoint(t *testing.T) *hangingEndpoint {
	t.Helper()
	e := &hangingEndpoint{release: make(chan struct{})}
	e.Server = httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		e.requests.Add(1)
		<-e.release
	}))
	t.Cleanup(func() { e.unblock(); e.Close() })
	return e
}

func (e *hangingEndpoint) unblock() { e.once.Do(func() { close(e.release) }) }

// TestHungWebhookNeverBlocksTelemetry: web-1 fires into a webhook that
// hangs and its event hangs in the worker; then web-2 and web-3 fire
// together: with a queue of one, one waits and the other is dropped and
// counted. Meanwhile every input batch passes through the processor and
// every evaluation's derived batch reaches the sink: the counts are exact.
// The hung run then times out and the queued one runs.
func TestHungWebhookNeverBlocksTelemetry(t *testing.T) {
	hook := newHangingEndpoint(t)
	cfg := loadConfig(t, tapDropRatio+fmt.Sprintf(`
action_queue_size: 1
triggers:
  - {name: ring-overflow, indicator: tap_drop_ratio, window: 1s, above: 0.001, actions: [page]}
actions:
  page: {type: webhook, endpoint: %q, timeout: 2s, retry: {max_attempts: 1}}
`, hook.URL))
	h := newHarnessConfig(t, cfg)
	sink := new(consumertest.MetricsSink)
	pipeline, err := processorhelper.NewMetrics(context.Background(), metadatatest.NewSettings(h.tel), cfg, sink, h.p.processMetrics)
	require.NoError(t, err)
	h.p.next = sink // derived batches go to the same sink
	// The batch that web-2 and web-3 start dropping in: the worker holds
	// web-1's event by then, whatever the scheduling (three events in one
	// evaluation could meet a queue the worker has not emptied yet).
	firstDrop := map[string]int{"web-1": 1, "web-2": 2, "web-3": 2}
	vms := []string{"web-1", "web-2", "web-3"}
	batch := func(i int) pmetric.Metrics {
		var pts []point
		var drops []point
		for _, vm := range vms {
			pts = append(pts, point{tapAttrs(vm, "vnet0", "network.io.direction", "transmit"), boot, h.now(), float64(998 * i)})
			drops = append(drops, point{tapAttrs(vm, "vnet0", "vnet.drop.reason", "FULL_RING"), boot, h.now(), float64(2 * max(0, i-firstDrop[vm]+1))})
		}
		return merge(sums("vnet.interface.packets", pts...), sums("vnet.packet.drops", drops...))
	}
	send := func(i int) {
		require.NoError(t, pipeline.ConsumeMetrics(context.Background(), batch(i)))
		h.tick(1)
	}
	send(0)
	send(1) // web-1 fires
	require.Eventually(t, func() bool { return hook.requests.Load() == 1 }, 5*time.Second, time.Millisecond)

	const more = 20
	began := time.Now()
	for i := 2; i < 2+more; i++ {
		send(i) // the first fires web-2 and web-3
	}
	flowed := time.Since(began)
	assert.Equal(t, int32(1), hook.requests.Load(), "still hung on the first event while telemetry flowed")
	t.Logf("%d batches and evaluations in %v while the webhook hung", more, flowed)

	// 2+more input batches of 6 points, and one derived batch per
	// evaluation: 3 groups x (2 windows of vnet.sli.value + 1 trigger state).
	var input, derived, sliPoints int
	for _, md := range sink.AllMetrics() {
		if md.ResourceMetrics().At(0).ScopeMetrics().At(0).Scope().Name() == "" {
			input++
			assert.Equal(t, 6, md.DataPointCount())
			continue
		}
		derived++
		sliPoints += countPoints(md, "vnet.sli.value")
	}
	assert.Equal(t, 2+more, input)
	assert.Equal(t, 2+more, derived)
	assert.Equal(t, (2+more)*3*2, sliPoints)

	// The hung run times out (2s), the queued one then hangs until released.
	require.Eventually(t, func() bool { return hook.requests.Load() == 2 }, 10*time.Second, 5*time.Millisecond)
	hook.unblock()
	h.stop()
	metadatatest.AssertEqualProcessorSliActions(t, h.tel, []metricdata.DataPoint[int64]{
		actionPoint("page", "webhook", "firing", "timeout", 1),
		actionPoint("page", "webhook", "firing", "ok", 1),
		actionPoint("page", "webhook", "firing", "dropped", 1),
	}, metricdatatest.IgnoreTimestamp())
}
