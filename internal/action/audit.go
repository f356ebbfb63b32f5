package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// AuditConfig configures the audit file.
type AuditConfig struct {
	// Path of the JSON lines file; empty: no audit file.
	Path string `mapstructure:"path"`
	// MaxBytes rotates the file before a record would take it past this.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// MaxBackups is how many rotated files (path.1 newest ... path.N) are
	// kept; 0 keeps none.
	MaxBackups int `mapstructure:"max_backups"`
}

// Validate checks the settings; prefix names the section.
func (c *AuditConfig) Validate(prefix string) error {
	if c.Path == "" {
		return nil
	}
	var errs []error
	if !filepath.IsAbs(c.Path) {
		errs = append(errs, fmt.Errorf("%s.path: %q must be absolute", prefix, c.Path))
	}
	if c.MaxBytes < 4096 {
		errs = append(errs, fmt.Errorf("%s.max_bytes: must be at least 4096, got %d", prefix, c.MaxBytes))
	}
	if c.MaxBackups < 0 || c.MaxBackups > 100 {
		errs = append(errs, fmt.Errorf("%s.max_backups: must be in [0, 100], got %d", prefix, c.MaxBackups))
	}
	return errors.Join(errs...)
}

// Audit appends one JSON line per action run and fsyncs it before Write
// returns, so a record written is a record kept, through kill -9 and
// power loss. It is safe for concurrent use.
type Audit struct {
	cfg AuditConfig
	now func() time.Time // the records' time; fixed in tests
	mu  sync.Mutex
	f   *os.File
	// size is the file's length: what rotation compares with MaxBytes.
	size int64
}

// OpenAudit opens (or creates) the file for appending. A last line cut
// short by a crash is ended with a newline, so the next record starts on
// a line of its own.
func OpenAudit(cfg AuditConfig) (*Audit, error) {
	a := &Audit{cfg: cfg, now: time.Now}
	if err := a.open(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Audit) open() error {
	f, err := os.OpenFile(a.cfg.Path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit file: %w", err)
	}
	a.f, a.size = f, st.Size()
	if err := a.endLastLine(); err != nil {
		a.f = nil
		f.Close()
		return err
	}
	return syncDir(a.cfg.Path)
}

// endLastLine appends a newline when the file ends in the middle of a
// line.
func (a *Audit) endLastLine() error {
	if a.size == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := a.f.ReadAt(last, a.size-1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("audit file %s: read last byte: %w", a.cfg.Path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	return a.append([]byte{'\n'})
}

// auditRecord is one line of the file.
type auditRecord struct {
	Time      time.Time         `json:"time"`
	Action    string            `json:"action"`
	Type      string            `json:"type"`
	Trigger   string            `json:"trigger"`
	Indicator string            `json:"indicator"`
	State     string            `json:"state"`
	EventTime time.Time         `json:"event_time"`
	Value     float64           `json:"value"`
	Outcome   string            `json:"outcome"`
	DryRun    bool              `json:"dry_run,omitempty"`
	Target    auditTarget       `json:"target"`
	Group     map[string]string `json:"group,omitempty"`
	Old       string            `json:"old,omitempty"`
	New       string            `json:"new,omitempty"`
	Detail    string            `json:"detail,omitempty"`
	ExitCode  *int              `json:"exit_code,omitempty"`
	Error     string            `json:"error,omitempty"`
	Took      float64           `json:"took_seconds"`
}

type auditTarget struct {
	VM        string `json:"vm.name,omitempty"`
	PID       int    `json:"process.pid,omitempty"`
	Interface string `json:"network.interface.name,omitempty"`
	Netns     string `json:"netns,omitempty"`
	Socket    string `json:"socket,omitempty"`
}

func newAuditRecord(r *Report, now time.Time) auditRecord {
	ev, res := r.Event, &r.Result
	rec := auditRecord{
		Time: now.UTC(), Action: r.Action, Type: r.Type,
		Trigger: ev.Trigger, Indicator: ev.Indicator, State: string(ev.State),
		EventTime: ev.Time.UTC(), Value: ev.Value, Outcome: string(r.Outcome), DryRun: ev.DryRun,
		Target: auditTarget{VM: res.Target.VM, PID: res.Target.PID, Interface: res.Target.Interface,
			Netns: res.Target.Netns, Socket: res.Target.Socket},
		Old: res.Old, New: res.New, Detail: res.Detail, Took: r.Took.Seconds(),
	}
	if len(ev.Group) > 0 {
		rec.Group = make(map[string]string, len(ev.Group))
		for _, g := range ev.Group {
			rec.Group[g.Key] = g.Value
		}
	}
	if res.Exited {
		rec.ExitCode = &res.ExitCode
	}
	if r.Err != nil {
		rec.Error = r.Err.Error()
	}
	return rec
}

// Write appends the run's record and syncs it to disk.
func (a *Audit) Write(r *Report) error {
	line, err := json.Marshal(newAuditRecord(r, a.now()))
	if err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return errors.New("audit file closed")
	}
	if a.size > 0 && a.size+int64(len(line)) > a.cfg.MaxBytes {
		if err := a.rotate(); err != nil {
			return err
		}
	}
	return a.append(line)
}

// append writes b in one call and syncs. Callers hold a.mu.
func (a *Audit) append(b []byte) error {
	n, err := a.f.Write(b)
	a.size += int64(n)
	if err != nil {
		return fmt.Errorf("audit file %s: write: %w", a.cfg.Path, err)
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("audit file %s: fsync: %w", a.cfg.Path, err)
	}
	return nil
}

// rotate shifts path.N-1 to path.N ... path to path.1 and starts afresh.
// Callers hold a.mu.
func (a *Audit) rotate() error {
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("audit file %s: close for rotation: %w", a.cfg.Path, err)
	}
	a.f = nil
	name := func(i int) string {
		if i == 0 {
			return a.cfg.Path
		}
		return a.cfg.Path + "." + strconv.Itoa(i)
	}
	if a.cfg.MaxBackups == 0 {
		if err := os.Remove(a.cfg.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit file rotation: %w", err)
		}
	}
	for i := a.cfg.MaxBackups; i >= 1; i-- {
		if err := os.Rename(name(i-1), name(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit file rotation: %w", err)
		}
	}
	return a.open()
}

// Close closes the file.
func (a *Audit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// syncDir makes a created or renamed file's directory entry durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("audit directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("audit directory %s: fsync: %w", filepath.Dir(path), err)
	}
	return nil
}
