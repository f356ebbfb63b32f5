//go:build linux

package closedloop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"

	"github.com/vnetpath/vnetpath/internal/testenv"
	"github.com/vnetpath/vnetpath/internal/vmlab"
	"github.com/vnetpath/vnetpath/processor/sliprocessor"
	"github.com/vnetpath/vnetpath/receiver/vnethostreceiver"
)

// The scenario. The lab VM's tap starts with 64 slots and its VMM takes
// vmmDelay to dequeue each frame. Every burstEvery a burst of `burst`
// datagrams arrives within a few hundred microseconds: the ring holds 64
// and the VMM dequeues almost nothing meanwhile, so about half of each
// burst is dropped (FULL_RING). With 256 slots a burst fits, and the VMM
// drains it in burst x vmmDelay (~140 ms), well before the next one.
const (
	evalInterval = 250 * time.Millisecond
	burst        = 128
	burstEvery   = 500 * time.Millisecond
	vmmDelay     = time.Millisecond

	above        = 0.01
	recoverBelow = 0.001
	recoverFor   = time.Second
	cooldown     = 30 * time.Second // longer than the test: nothing may run again

	scope = "github.com/vnetpath/vnetpath/processor/sliprocessor"
)

// loop is one pipeline watching one lab VM.
type loop struct {
	t    *testing.T
	lab  *vmlab.Lab
	vm   *vmlab.VM
	sink *consumertest.MetricsSink
	hook *alertmanager
	logs *observer.ObservedLogs
}

// alertmanager records the alerts posted to its v2 API.
type alertmanager struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []alert
}

type alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	path         string
}

func newAlertmanager(t *testing.T) *alertmanager {
	am := &alertmanager{}
	am.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var posted []alert
		if err := json.Unmarshal(b, &posted); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		am.mu.Lock()
		for _, a := range posted {
			a.path = r.URL.Path
			am.alerts = append(am.alerts, a)
		}
		am.mu.Unlock()
	}))
	t.Cleanup(am.Close)
	return am
}

func (am *alertmanager) received() []alert {
	am.mu.Lock()
	defer am.mu.Unlock()
	return append([]alert(nil), am.alerts...)
}

// processorConfig is the sli configuration under test.
func processorConfig(webhook string, dryRun bool) string {
	return fmt.Sprintf(`
evaluation_interval: 250ms
windows: [1s]
dry_run: %t
indicators:
  - name: tap_drop_ratio
    ratio: {bad: vnet.packet.drops, total: [vnet.interface.packets, vnet.packet.drops]}
    where: {network.io.direction: transmit}
    group_by: [vm.name, network.interface.name]
triggers:
  - name: ring-overflow
    indicator: tap_drop_ratio
    window: 1s
    above: %v
    for: 2
    recover_below: %v
    recover_for: %v
    cooldown: %v
    actions: [grow-ring, kick-vmm, page]
actions:
  grow-ring: {type: txqueuelen, multiply: 4, max: 4096}
  kick-vmm: {type: signal, allowed_process_names: [vnetlab-vmm]}
  page: {type: webhook, endpoint: "%s/api/v2/alerts", format: alertmanager, timeout: 5s}
`, dryRun, above, recoverBelow, recoverFor, cooldown, webhook)
}

func unmarshal(t *testing.T, cfg component.Config, text string) {
	t.Helper()
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &raw))
	require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	require.NoError(t, cfg.(interface{ Validate() error }).Validate())
}

// start builds the lab and the pipeline vnet_host -> sli -> sink, and
// waits until the VM's group is evaluated.
func start(t *testing.T, dryRun bool) *loop {
	testenv.RequireRoot(t)
	l := &loop{t: t, sink: new(consumertest.MetricsSink), hook: newAlertmanager(t)}
	l.lab = vmlab.NewT(t, vmlab.Options{TxQueueLen: 64})
	l.vm = l.lab.VM(0)
	require.NoError(t, l.vm.Control.SetDelay(vmmDelay))

	core, logs := observer.New(zapcore.InfoLevel)
	l.logs = logs
	pf := sliprocessor.NewFactory()
	pcfg := pf.CreateDefaultConfig()
	unmarshal(t, pcfg, processorConfig(l.hook.URL, dryRun))
	pset := processortest.NewNopSettings(pf.Type())
	pset.Logger = zap.New(core)
	proc, err := pf.CreateMetrics(context.Background(), pset, pcfg, l.sink)
	require.NoError(t, err)

	rf := vnethostreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig()
	// Only this lab's tap: other labs on the machine must not fire (and
	// be acted on) here.
	unmarshal(t, rcfg, fmt.Sprintf(`
collection_interval: 250ms
probes: [devices, drops]
interfaces: {include: [%s]}
discovery: {interval: 1s}
`, l.vm.HostTap))
	recv, err := rf.CreateMetrics(context.Background(), receivertest.NewNopSettings(rf.Type()), rcfg, proc)
	require.NoError(t, err)

	host := componenttest.NewNopHost()
	require.NoError(t, proc.Start(context.Background(), host))
	require.NoError(t, recv.Start(context.Background(), host))
	t.Cleanup(func() {
		require.NoError(t, recv.Shutdown(context.Background()))
		require.NoError(t, proc.Shutdown(context.Background()))
	})
	t.Cleanup(func() {
		if t.Failed() { // what the actions did, for the CI log
			for _, e := range l.logs.FilterMessageSnippet("sli action").All() {
				t.Logf("%s %v", e.Message, e.ContextMap())
			}
			for _, e := range l.logs.FilterMessageSnippet("sli dry run").All() {
				t.Logf("%s %v", e.Message, e.ContextMap())
			}
		}
	})

	// Discovery attributes the tap to its VM within an interval or two.
	l.waitFor("the VM's group evaluated", 20*time.Second, func(e evaluation) bool { return e.hasValue })
	return l
}

// evaluation is one derived batch of the sli processor, for this VM.
type evaluation struct {
	at       time.Time
	value    float64 // vnet.sli.value over 1s
	hasValue bool
	state    int64 // vnet.trigger.state
	actions  map[string]int64
}

func (l *loop) evaluations() []evaluation {
	var out []evaluation
	for _, md := range l.sink.AllMetrics() {
		sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
		if sm.Scope().Name() != scope {
			continue
		}
		e := evaluation{state: -1, actions: map[string]int64{}}
		for _, m := range sm.Metrics().All() {
			switch m.Name() {
			case "vnet.sli.value":
				for _, dp := range m.Gauge().DataPoints().All() {
					if l.ours(dp) {
						e.at, e.value, e.hasValue = dp.Timestamp().AsTime(), dp.DoubleValue(), true
					}
				}
			case "vnet.trigger.state":
				for _, dp := range m.Gauge().DataPoints().All() {
					if l.ours(dp) {
						e.at, e.state = dp.Timestamp().AsTime(), dp.IntValue()
					}
				}
			case "vnet.remediation.actions":
				for _, dp := range m.Sum().DataPoints().All() {
					if l.ours(dp) {
						a := dp.Attributes().AsRaw()
						e.actions[fmt.Sprintf("%s/%s", a["vnet.action.name"], a["vnet.action.outcome"])] = dp.IntValue()
					}
				}
			}
		}
		if !e.at.IsZero() {
			out = append(out, e)
		}
	}
	return out
}

func (l *loop) ours(dp pmetric.NumberDataPoint) bool {
	vm, _ := dp.Attributes().Get("vm.name")
	tap, _ := dp.Attributes().Get("network.interface.name")
	return vm.Str() == l.vm.Name && tap.Str() == l.vm.HostTap
}

// waitFor returns the first evaluation from `from` on that matches.
func (l *loop) waitFor(what string, within time.Duration, match func(evaluation) bool) (int, evaluation) {
	return l.waitFrom(0, what, within, match)
}

func (l *loop) waitFrom(from int, what string, within time.Duration, match func(evaluation) bool) (int, evaluation) {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for {
		evs := l.evaluations()
		for i := from; i < len(evs); i++ {
			if match(evs[i]) {
				return i, evs[i]
			}
		}
		require.True(l.t, time.Now().Before(deadline), "%s: not within %v", what, within)
		time.Sleep(20 * time.Millisecond)
	}
}

// tapDrops reads the receiver's drops on the tap by reason, from its
// last batch.
func (l *loop) tapDrops() map[string]int64 {
	all := l.sink.AllMetrics()
	for i := len(all) - 1; i >= 0; i-- {
		byReason, found := map[string]int64{}, false
		for _, rm := range all[i].ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() != "vnet.packet.drops" {
						continue
					}
					found = true
					for _, dp := range m.Sum().DataPoints().All() {
						if l.ours(dp) {
							reason, _ := dp.Attributes().Get("vnet.drop.reason")
							byReason[reason.Str()] += dp.IntValue()
						}
					}
				}
			}
		}
		if found {
			return byReason
		}
	}
	return map[string]int64{}
}

// traffic sends a burst every burstEvery to a receiver in the guest.
type traffic struct {
	cancel context.CancelFunc
	done   chan struct{}
	rx     *vmlab.UDPReceiver
	sent   int
	once   sync.Once // stop runs from the test and from its defer
}

func (l *loop) startTraffic() *traffic {
	rx, err := vmlab.ListenUDP(l.vm.Guest(), 0)
	require.NoError(l.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{cancel: cancel, done: make(chan struct{}), rx: rx}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(burstEvery)
		defer tick.Stop()
		for {
			n, _ := vmlab.SendUDP(ctx, l.lab.Client(), rx.Addr(), vmlab.UDPSpec{Count: burst, Size: 64})
			tr.sent += n
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return tr
}

func (tr *traffic) stop() int {
	tr.once.Do(func() {
		tr.cancel()
		<-tr.done
		tr.rx.Wait(context.Background(), uint64(tr.sent), 300*time.Millisecond)
		_ = tr.rx.Close()
	})
	return tr.sent
}

func (l *loop) txQueueLen() int {
	n, err := l.vm.TxQueueLen()
	require.NoError(l.t, err)
	return n
}

func (l *loop) sigusr1() uint64 {
	st, err := l.vm.Control.Stats()
	require.NoError(l.t, err)
	return st.SIGUSR1
}

func (l *loop) tapStats() vmlab.LinkStats {
	s, err := l.vm.HostTapStats()
	require.NoError(l.t, err)
	return s
}

// TestClosedLoop: the drops fire the trigger within two evaluations, the
// actions grow the ring 64 -> 256, signal the VMM once and page once; the
// drops stop, the trigger resolves within recover_for plus an interval
// and pages the resolution; a recurrence within the cooldown runs
// nothing. Every count is exact.
func TestClosedLoop(t *testing.T) {
	l := start(t, false)
	tapBefore, dropsBefore := l.tapStats(), l.tapDrops()
	tr := l.startTraffic()
	defer tr.stop()

	iBreach, breach := l.waitFor("the 1s drop ratio over the threshold", 20*time.Second,
		func(e evaluation) bool { return e.hasValue && e.value > above })
	iFire, fire := l.waitFrom(iBreach, "firing", 10*time.Second, func(e evaluation) bool { return e.state == 2 })
	t.Logf("drop ratio %.3f over 1s at %s; firing %v later", breach.value, breach.at.Format("15:04:05.000"), fire.at.Sub(breach.at))
	assert.Equal(t, int64(1), breach.state, "pending at the first breach (for: 2)")
	assert.LessOrEqual(t, fire.at.Sub(breach.at), 2*evalInterval, "fires within 2 evaluation intervals")

	require.Eventually(t, func() bool { return l.txQueueLen() == 256 }, 5*time.Second, 10*time.Millisecond, "txqueuelen")
	require.Eventually(t, func() bool { return l.sigusr1() == 1 }, 5*time.Second, 10*time.Millisecond, "SIGUSR1")
	require.Eventually(t, func() bool { return len(l.hook.received()) == 1 }, 5*time.Second, 10*time.Millisecond, "firing alert")
	fired := l.hook.received()[0]
	assert.Equal(t, "/api/v2/alerts", fired.path)
	assert.Equal(t, map[string]string{"alertname": "ring-overflow", "vm_name": l.vm.Name, "interface": l.vm.HostTap}, fired.Labels)
	assert.Equal(t, "1s", fired.Annotations["window"])
	assert.Equal(t, fmt.Sprint(above), fired.Annotations["threshold"])
	assert.Nil(t, fired.EndsAt, "firing: no endsAt")
	assert.True(t, fired.StartsAt.Equal(fire.at), "startsAt is the firing evaluation")

	// The ring holds the bursts now: the ratio falls and the trigger
	// resolves after recover_for.
	iHealthy, healthy := l.waitFrom(iFire, "the drop ratio below recover_below", 10*time.Second,
		func(e evaluation) bool { return e.hasValue && e.value < recoverBelow })
	iOK, ok := l.waitFrom(iHealthy, "back to ok", 10*time.Second, func(e evaluation) bool { return e.state == 0 })
	t.Logf("healthy %v after firing; ok %v after healthy", healthy.at.Sub(fire.at), ok.at.Sub(healthy.at))
	assert.LessOrEqual(t, ok.at.Sub(healthy.at), recoverFor+evalInterval, "ok within recover_for + one interval")
	require.Eventually(t, func() bool { return len(l.hook.received()) == 2 }, 5*time.Second, 10*time.Millisecond, "resolved alert")
	resolved := l.hook.received()[1]
	assert.Equal(t, fired.Labels, resolved.Labels)
	assert.True(t, resolved.StartsAt.Equal(fired.StartsAt), "the same alert ends")
	require.NotNil(t, resolved.EndsAt)
	assert.True(t, resolved.EndsAt.Equal(ok.at))
	assert.Equal(t, fmt.Sprint(recoverBelow), resolved.Annotations["threshold"])

	// A recurrence inside the cooldown: the ring is back to 64, the drops
	// return and the trigger fires again, but the actions are held.
	require.NoError(t, l.vm.SetTxQueueLen(64))
	iAgain, _ := l.waitFrom(iOK, "firing again", 10*time.Second, func(e evaluation) bool { return e.state == 2 })
	l.waitFrom(iAgain, "held counted", 5*time.Second, func(e evaluation) bool { return e.actions["page/held"] == 1 })
	time.Sleep(4 * evalInterval) // room for anything that would still run
	sent := tr.stop()

	assert.Equal(t, 64, l.txQueueLen(), "not raised again during the cooldown")
	assert.Equal(t, uint64(1), l.sigusr1(), "exactly one SIGUSR1")
	assert.Len(t, l.hook.received(), 2, "one firing and one resolved alert")
	last := l.evaluations()
	assert.Equal(t, map[string]int64{
		"grow-ring/ok": 1, "kick-vmm/ok": 1, "page/ok": 2,
		"grow-ring/held": 1, "kick-vmm/held": 1, "page/held": 1,
	}, last[len(last)-1].actions)

	// Ground truth: the tap's tx_dropped counts its FULL_RING drops and
	// the QDISC_DROPs of the moments its queue is deactivated while
	// txqueuelen changes; the receiver has both. (Shrinking the ring back
	// to 64 frees the frames beyond 64 with another reason, which
	// tx_dropped does not count.)
	time.Sleep(2 * evalInterval) // one more scrape after the last frame
	dropped := int64(l.tapStats().Sub(tapBefore).TxDropped)
	drops := l.tapDrops()
	counted := drops["FULL_RING"] - dropsBefore["FULL_RING"] + drops["QDISC_DROP"] - dropsBefore["QDISC_DROP"]
	assert.Equal(t, dropped, counted, "receiver FULL_RING + QDISC_DROP drops = tap tx_dropped")
	t.Logf("%d datagrams in %d bursts, %d dropped by the tap (%.1f%%), receiver drops by reason %v; evaluations %d..%d..%d..%d",
		sent, sent/burst, dropped, 100*float64(dropped)/float64(sent), drops, iBreach, iFire, iHealthy, iOK)
}

// TestClosedLoopDryRun: the same scenario with dry_run changes nothing:
// the ring stays at 64, the VMM gets no signal, the webhook no call. The
// actions report what they would have done, logged and counted as
// dry_run, firing and (for the webhook) resolved.
func TestClosedLoopDryRun(t *testing.T) {
	l := start(t, true)
	tr := l.startTraffic()
	defer tr.stop()

	_, fire := l.waitFor("firing", 20*time.Second, func(e evaluation) bool { return e.state == 2 })
	l.waitFor("dry runs counted", 5*time.Second, func(e evaluation) bool {
		return e.actions["grow-ring/dry_run"] == 1 && e.actions["kick-vmm/dry_run"] == 1 && e.actions["page/dry_run"] == 1
	})
	time.Sleep(4 * evalInterval)
	assert.Equal(t, 64, l.txQueueLen())
	assert.Equal(t, uint64(0), l.sigusr1())
	assert.Empty(t, l.hook.received())
	assert.Equal(t, int64(2), l.evaluations()[len(l.evaluations())-1].state, "nothing fixed: still firing")

	byAction := map[string]map[string]any{}
	for _, e := range l.logs.FilterMessage("sli dry run: action not run").All() {
		byAction[e.ContextMap()["action"].(string)] = e.ContextMap()
	}
	require.Len(t, byAction, 3)
	assert.Equal(t, "64", byAction["grow-ring"]["old"])
	assert.Equal(t, "256", byAction["grow-ring"]["new"], "what it would have set")
	assert.Equal(t, "comm vnetlab-vmm", byAction["kick-vmm"]["detail"])
	assert.Equal(t, map[string]any{"vm.name": l.vm.Name, "process.pid": l.vm.PID, "network.interface.name": l.vm.HostTap},
		byAction["kick-vmm"]["target"])

	// Traffic stops: the trigger resolves, and only the webhook takes a
	// resolved event, in dry run too.
	tr.stop()
	l.waitFor("resolved", 10*time.Second, func(e evaluation) bool { return e.at.After(fire.at) && e.state == 0 })
	_, last := l.waitFor("resolved dry run counted", 5*time.Second, func(e evaluation) bool { return e.actions["page/dry_run"] == 2 })
	assert.Equal(t, map[string]int64{"grow-ring/dry_run": 1, "kick-vmm/dry_run": 1, "page/dry_run": 2}, last.actions)
	assert.Equal(t, 64, l.txQueueLen())
	assert.Equal(t, uint64(0), l.sigusr1())
	assert.Empty(t, l.hook.received())
}
