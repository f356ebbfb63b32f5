package action

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"
)

// hook records the requests it gets and answers with the next status of
// its script (200 once the script is used up).
type hook struct {
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	script  []int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.headers = append(h.headers, r.Header.Clone())
	status := http.StatusOK
	if len(h.script) > 0 {
		status, h.script = h.script[0], h.script[1:]
	}
	h.mu.Unlock()
	w.WriteHeader(status)
}

func (h *hook) requests() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...)
}

func newWebhook(t *testing.T, settings map[string]any) Action {
	t.Helper()
	a, err := WebhookFactory{}.Create(Settings{Name: "page", Logger: zap.NewNop(), Telemetry: componenttest.NewNopTelemetrySettings()}, settings)
	require.NoError(t, err)
	lc := a.(Lifecycle)
	require.NoError(t, lc.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, lc.Shutdown(context.Background())) })
	return a
}

func TestWebhookJSON(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	a := newWebhook(t, map[string]any{"endpoint": srv.URL, "headers": map[string]any{"X-Token": "s3cret"}})
	res, err := a.Fire(context.Background(), testEvent)
	require.NoError(t, err)
	assert.Equal(t, "HTTP 200 after 1 attempt(s)", res.Detail)
	require.Len(t, h.requests(), 1)
	assert.JSONEq(t, `{"trigger":"ring-overflow","indicator":"tap_drop_ratio","state":"firing","value":0.002,
		"threshold":0.001,"window":"1s","group":{"vm.name":"web-1","network.interface.name":"vnet3"},
		"time":"2023-11-14T22:13:20Z"}`, string(h.requests()[0]))
	assert.Equal(t, "s3cret", h.headers[0].Get("X-Token"))
	assert.Equal(t, "application/json", h.headers[0].Get("Content-Type"))
	_, isRemediation := a.(FiringOnly)
	assert.False(t, isRemediation, "a webhook reports resolved events too")
}

// The Alertmanager format posts a v2 alerts array: the firing alert has
// startsAt, the resolved one the same startsAt and its endsAt.
func TestWebhookAlertmanager(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	a := newWebhook(t, map[string]any{"endpoint": srv.URL + "/api/v2/alerts", "format": "alertmanager", "generator_url": "http://grafana/d/vnet"})
	ev := *event("vm.name", "web-1", "network.interface.name", "vnet3", "process.pid", "4711")
	_, err := a.Fire(context.Background(), ev)
	require.NoError(t, err)
	resolved := ev
	resolved.State, resolved.Time, resolved.Value, resolved.Threshold = Resolved, ev.Time.Add(90*time.Second), 0, 0.0006
	_, err = a.Fire(context.Background(), resolved)
	require.NoError(t, err)

	reqs := h.requests()
	require.Len(t, reqs, 2)
	labels := `"labels":{"alertname":"ring-overflow","vm_name":"web-1","interface":"vnet3","process_pid":"4711"}`
	assert.JSONEq(t, `[{`+labels+`,
		"annotations":{"indicator":"tap_drop_ratio","value":"0.002","threshold":"0.001","window":"1s"},
		"startsAt":"2023-11-14T22:13:20Z","generatorURL":"http://grafana/d/vnet"}]`, string(reqs[0]))
	assert.JSONEq(t, `[{`+labels+`,
		"annotations":{"indicator":"tap_drop_ratio","value":"0","threshold":"0.0006","window":"1s"},
		"startsAt":"2023-11-14T22:13:20Z","endsAt":"2023-11-14T22:14:50Z","generatorURL":"http://grafana/d/vnet"}]`, string(reqs[1]))
}

func TestLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"vm.name": "vm_name", "network.interface.name": "interface", "process.pid": "process_pid",
		"host.name": "host_name", "9lives": "_9lives", "a-b c": "a_b_c", "": "_",
	} {
		assert.Equal(t, want, LabelName(in), in)
	}
}

// 5xx and 429 are retried with backoff; another 4xx is not.
func TestWebhookRetries(t *testing.T) {
	h := &hook{script: []int{503, 429, 200}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	a := newWebhook(t, map[string]any{"endpoint": srv.URL, "retry": map[string]any{"max_attempts": 4, "initial_interval": "10ms", "max_interval": "20ms"}})
	res, err := a.Fire(context.Background(), testEvent)
	require.NoError(t, err)
	assert.Equal(t, "HTTP 200 after 3 attempt(s)", res.Detail)
	assert.Len(t, h.requests(), 3)

	h.script = []int{400, 200}
	res, err = newWebhook(t, map[string]any{"endpoint": srv.URL, "retry": map[string]any{"initial_interval": "10ms"}}).Fire(context.Background(), testEvent)
	assert.EqualError(t, err, "webhook POST "+srv.URL+": HTTP 400")
	assert.Equal(t, "HTTP 400 after 1 attempt(s)", res.Detail)

	h.script = []int{500, 500, 500, 500}
	_, err = newWebhook(t, map[string]any{"endpoint": srv.URL, "retry": map[string]any{"max_attempts": 3, "initial_interval": "1ms", "max_interval": "1ms"}}).Fire(context.Background(), testEvent)
	assert.EqualError(t, err, "webhook POST "+srv.URL+": HTTP 500")
	assert.Equal(t, 3+1+3, len(h.requests()), "400 is not retried")
}

func TestRetryBackoff(t *testing.T) {
	r := RetryConfig{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, r.backoff(n))
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}, got)
}

// An endpoint that hangs is cut off by the action's timeout.
func TestWebhookHangTimesOut(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		calls.Add(1)
		<-release
	}))
	defer srv.Close()
	defer close(release)
	a := newWebhook(t, map[string]any{"endpoint": srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := a.Fire(ctx, testEvent)
	assert.Less(t, time.Since(began), 5*time.Second)
	assert.Equal(t, Timeout, Classify(ctx, err), "%v", err)
	assert.Equal(t, int32(1), calls.Load(), "no retry once the context has ended")
}

func TestWebhookDryRunSendsNothing(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	a := newWebhook(t, map[string]any{"endpoint": srv.URL, "format": "alertmanager"})
	ev := testEvent
	ev.DryRun = true
	res, err := a.Fire(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, DryRun, res.Outcome)
	assert.Contains(t, res.Detail, "(alertmanager) to "+srv.URL)
	assert.Empty(t, h.requests())
	// The size it reports is that of the body a real run posts.
	_, err = a.Fire(context.Background(), testEvent)
	require.NoError(t, err)
	require.Len(t, h.requests(), 1)
	assert.Equal(t, fmt.Sprintf("POST %d bytes (alertmanager) to %s", len(h.requests()[0]), srv.URL), res.Detail)
}

func TestWebhookConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		settings map[string]any
		want     string
	}{
		{map[string]any{}, `endpoint: "" is not an http(s) URL`},
		{map[string]any{"endpoint": "ftp://x"}, `endpoint: "ftp://x" is not an http(s) URL`},
		{map[string]any{"endpoint": "http://x", "format": "slack"}, `format: unknown format "slack"; allowed: json, alertmanager`},
		{map[string]any{"endpoint": "http://x", "retry": map[string]any{"max_attempts": 0}}, "retry.max_attempts: must be in [1, 10], got 0"},
		{map[string]any{"endpoint": "http://x", "retry": map[string]any{"initial_interval": "2s", "max_interval": "1s"}},
			"retry: initial_interval must be positive and max_interval at least as long, got 2s and 1s"},
	} {
		assert.EqualError(t, WebhookFactory{}.Validate(tc.settings), tc.want)
	}
	assert.EqualError(t, WebhookFactory{}.Validate(map[string]any{"endpoint": "http://x", "colour": "red", "endpont": "y"}),
		`unknown settings ["colour" "endpont"]`)
	assert.NoError(t, WebhookFactory{}.Validate(map[string]any{"endpoint": "http://x", "headers": map[string]any{"a": "b"},
		"tls": map[string]any{"insecure_skip_verify": true}, "dry_run": true, "rate_limit": map[string]any{}}))
}

// attempt_timeout cuts one hung attempt; the retry gets through.
func TestWebhookAttemptTimeout(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			<-release
		}
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handler
	a := newWebhook(t, map[string]any{"endpoint": srv.URL, "attempt_timeout": "100ms",
		"retry": map[string]any{"initial_interval": "10ms"}})
	res, err := a.Fire(context.Background(), testEvent)
	require.NoError(t, err)
	assert.Equal(t, "HTTP 200 after 2 attempt(s)", res.Detail)
}
