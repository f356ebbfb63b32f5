package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
)

// WebhookType posts the event as JSON, or as an Alertmanager v2 alert.
const WebhookType = "webhook"

// Webhook body formats.
const (
	FormatJSON         = "json"
	FormatAlertmanager = "alertmanager"
)

// WebhookConfig configures a webhook action. The HTTP client settings
// (endpoint, tls, headers, timeout, ...) are confighttp's.
type WebhookConfig struct {
	CommonConfig `mapstructure:",squash"`
	// ClientConfig is named, not embedded: its Unmarshal method must not
	// become WebhookConfig's.
	ClientConfig confighttp.ClientConfig `mapstructure:",squash"`
	// Format is json (the event) or alertmanager (a v2 alerts array).
	Format string `mapstructure:"format"`
	// GeneratorURL is the alerts' generatorURL (alertmanager format).
	GeneratorURL string      `mapstructure:"generator_url"`
	Retry        RetryConfig `mapstructure:"retry"`
	// AttemptTimeout bounds one attempt; 0 leaves only the action's
	// timeout, which bounds all attempts. (`timeout` in an action's
	// settings is the action's, so confighttp's is set from this.)
	AttemptTimeout time.Duration `mapstructure:"attempt_timeout"`
}

// RetryConfig retries a failed POST (connection errors, 5xx, 429) with
// exponential backoff, all within the action's timeout.
type RetryConfig struct {
	// MaxAttempts counts the first try; 1 never retries.
	MaxAttempts     int           `mapstructure:"max_attempts"`
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	MaxInterval     time.Duration `mapstructure:"max_interval"`
}

// maxAttempts bounds retries whatever the timeout.
const maxAttempts = 10

// backoff is the wait before attempt n+1 (n >= 1).
func (r RetryConfig) backoff(n int) time.Duration {
	d := r.InitialInterval
	for i := 1; i < n && d < r.MaxInterval; i++ {
		d *= 2
	}
	return min(d, r.MaxInterval)
}

// WebhookFactory makes webhook actions.
type WebhookFactory struct{}

// Type returns "webhook".
func (WebhookFactory) Type() string { return WebhookType }

func (WebhookFactory) decode(settings map[string]any) (WebhookConfig, error) {
	cfg := WebhookConfig{
		CommonConfig: notifierDefaults(),
		ClientConfig: confighttp.NewDefaultClientConfig(),
		Format:       FormatJSON,
		Retry:        RetryConfig{MaxAttempts: 3, InitialInterval: 500 * time.Millisecond, MaxInterval: 5 * time.Second},
	}
	if err := Decode(settings, &cfg); err != nil {
		return cfg, err
	}
	if err := checkKeys(settings, &cfg); err != nil {
		return cfg, err
	}
	cfg.ClientConfig.Timeout = cfg.AttemptTimeout
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if u, err := url.Parse(cfg.ClientConfig.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail("endpoint: %q is not an http(s) URL", cfg.ClientConfig.Endpoint)
	}
	if cfg.Format != FormatJSON && cfg.Format != FormatAlertmanager {
		fail("format: unknown format %q; allowed: %s, %s", cfg.Format, FormatJSON, FormatAlertmanager)
	}
	if r := cfg.Retry; r.MaxAttempts < 1 || r.MaxAttempts > maxAttempts {
		fail("retry.max_attempts: must be in [1, %d], got %d", maxAttempts, r.MaxAttempts)
	}
	if cfg.AttemptTimeout < 0 {
		fail("attempt_timeout: must not be negative, got %v", cfg.AttemptTimeout)
	}
	if r := cfg.Retry; r.InitialInterval <= 0 || r.MaxInterval < r.InitialInterval {
		fail("retry: initial_interval must be positive and max_interval at least as long, got %v and %v", r.InitialInterval, r.MaxInterval)
	}
	if err := cfg.ClientConfig.Validate(); err != nil {
		fail("%w", err)
	}
	errs = append(errs, cfg.validate())
	return cfg, errors.Join(errs...)
}

// Validate checks the settings.
func (f WebhookFactory) Validate(settings map[string]any) error {
	_, err := f.decode(settings)
	return err
}

// Create builds a webhook action; its HTTP client is made at Start.
func (f WebhookFactory) Create(set Settings, settings map[string]any) (Action, error) {
	cfg, err := f.decode(settings)
	if err != nil {
		return nil, err
	}
	op := &webhookOp{cfg: cfg, telemetry: set.Telemetry, started: map[string]time.Time{}}
	return &webhook{guarded: newGuarded(op, cfg.CommonConfig, &set), op: op}, nil
}

// webhook is a guarded webhookOp with a lifecycle for its HTTP client.
type webhook struct {
	*guarded
	op *webhookOp
}

// Start builds the HTTP client with the host's extensions (auth).
func (w *webhook) Start(ctx context.Context, host component.Host) error {
	var ext map[component.ID]component.Component
	if host != nil {
		ext = host.GetExtensions()
	}
	client, err := w.op.cfg.ClientConfig.ToClient(ctx, ext, w.op.telemetry)
	if err != nil {
		return fmt.Errorf("webhook client: %w", err)
	}
	w.op.client = client
	return nil
}

// Shutdown closes idle connections.
func (w *webhook) Shutdown(context.Context) error {
	if w.op.client != nil {
		w.op.client.CloseIdleConnections()
	}
	return nil
}

type webhookOp struct {
	cfg       WebhookConfig
	telemetry component.TelemetrySettings
	client    *http.Client

	mu      sync.Mutex
	started map[string]time.Time // alert key -> startsAt of its firing
}

// maxOpenAlerts bounds the firing alerts remembered for their startsAt.
const maxOpenAlerts = 10000

func (o *webhookOp) target(ev *Event) (Target, error) { return groupTarget(ev), nil }

func (o *webhookOp) body(ev *Event) ([]byte, error) {
	if o.cfg.Format == FormatAlertmanager {
		return json.Marshal([]amAlert{o.alert(ev)})
	}
	return json.Marshal(newEventJSON(ev))
}

// startsAt remembers a firing alert's start and returns the start of a
// resolved one, so Alertmanager sees the same alert end.
func (o *webhookOp) startsAt(ev *Event) time.Time {
	key := groupKey(ev)
	o.mu.Lock()
	defer o.mu.Unlock()
	if ev.State == Firing {
		if len(o.started) >= maxOpenAlerts {
			clear(o.started) // a leak guard: alerts never resolved
		}
		o.started[key] = ev.Time
		return ev.Time
	}
	t, ok := o.started[key]
	delete(o.started, key)
	if !ok {
		return ev.Time
	}
	return t
}

func (o *webhookOp) run(ctx context.Context, t Target, ev *Event, dry bool) (Result, error) {
	body, err := o.body(ev)
	if err != nil {
		return Result{}, fmt.Errorf("webhook body: %w", err)
	}
	if dry {
		return Result{Detail: fmt.Sprintf("POST %d bytes (%s) to %s", len(body), o.cfg.Format, o.cfg.ClientConfig.Endpoint)}, nil
	}
	if o.client == nil {
		return Result{}, errors.New("webhook not started")
	}
	status, attempts, err := o.post(ctx, body)
	res := Result{Detail: fmt.Sprintf("HTTP %d after %d attempt(s)", status, attempts)}
	if status == 0 {
		res.Detail = fmt.Sprintf("no response after %d attempt(s)", attempts)
	}
	return res, err
}

// post sends body, retrying what may succeed later.
func (o *webhookOp) post(ctx context.Context, body []byte) (status, attempts int, err error) {
	r := o.cfg.Retry
	for attempts = 1; ; attempts++ {
		var retry bool
		status, retry, err = o.postOnce(ctx, body)
		if err == nil || !retry || attempts >= r.MaxAttempts {
			return status, attempts, err
		}
		wait := time.NewTimer(r.backoff(attempts))
		select {
		case <-ctx.Done():
			wait.Stop()
			return status, attempts, fmt.Errorf("%w (then %w)", err, ctx.Err())
		case <-wait.C:
		}
	}
}

func (o *webhookOp) postOnce(ctx context.Context, body []byte) (status int, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.cfg.ClientConfig.Endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, false, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, ctx.Err() == nil, fmt.Errorf("webhook POST %s: %w", o.cfg.ClientConfig.Endpoint, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return resp.StatusCode, true, fmt.Errorf("webhook POST %s: HTTP %d", o.cfg.ClientConfig.Endpoint, resp.StatusCode)
	default:
		return resp.StatusCode, false, fmt.Errorf("webhook POST %s: HTTP %d", o.cfg.ClientConfig.Endpoint, resp.StatusCode)
	}
}

// eventJSON is the json format's body.
type eventJSON struct {
	Trigger   string            `json:"trigger"`
	Indicator string            `json:"indicator"`
	State     string            `json:"state"`
	Value     float64           `json:"value"`
	Threshold float64           `json:"threshold"`
	Window    string            `json:"window"`
	Group     map[string]string `json:"group"`
	Time      time.Time         `json:"time"`
}

func newEventJSON(ev *Event) eventJSON {
	g := make(map[string]string, len(ev.Group))
	for _, a := range ev.Group {
		g[a.Key] = a.Value
	}
	return eventJSON{
		Trigger: ev.Trigger, Indicator: ev.Indicator, State: string(ev.State),
		Value: ev.Value, Threshold: ev.Threshold, Window: ev.Window.String(),
		Group: g, Time: ev.Time.UTC(),
	}
}
