package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
)

// QMPType sends a QEMU Machine Protocol command to the VM's monitor.
const QMPType = "qmp"

// QMPConfig configures a qmp action.
type QMPConfig struct {
	CommonConfig `mapstructure:",squash"`
	// Socket is the monitor socket's path, a template over the group's
	// attributes: /var/lib/libvirt/qemu/domain-{{vm.name}}/monitor.sock.
	Socket string `mapstructure:"socket"`
	// Sockets maps vm.name to its monitor socket; it wins over Socket.
	Sockets map[string]string `mapstructure:"sockets"`
	// Command and Arguments are the QMP command, e.g. set_link with
	// {name: net0, up: false}.
	Command   string         `mapstructure:"command"`
	Arguments map[string]any `mapstructure:"arguments"`
}

// QMPFactory makes qmp actions.
type QMPFactory struct{}

// Type returns "qmp".
func (QMPFactory) Type() string { return QMPType }

var qmpCommand = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// qmpReplyMax bounds the reply kept in the result's detail.
const qmpReplyMax = 512

func (QMPFactory) decode(settings map[string]any) (QMPConfig, Template, error) {
	cfg := QMPConfig{CommonConfig: remediationDefaults()}
	if err := Decode(settings, &cfg); err != nil {
		return cfg, Template{}, err
	}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var tmpl Template
	switch {
	case cfg.Socket == "" && len(cfg.Sockets) == 0:
		fail("one of socket, sockets is required")
	case cfg.Socket != "":
		var err error
		if tmpl, err = ParseTemplate(cfg.Socket); err != nil {
			fail("socket: %w", err)
		} else if !filepath.IsAbs(cfg.Socket) {
			fail("socket: %q must be an absolute path", cfg.Socket)
		}
	}
	for vm, p := range cfg.Sockets {
		if !filepath.IsAbs(p) {
			fail("sockets.%s: %q must be an absolute path", vm, p)
		}
	}
	if !qmpCommand.MatchString(cfg.Command) {
		fail("command: %q is not a QMP command name (e.g. set_link, query-status)", cfg.Command)
	}
	if _, err := json.Marshal(cfg.Arguments); err != nil {
		fail("arguments: %w", err)
	}
	errs = append(errs, cfg.validate())
	return cfg, tmpl, errors.Join(errs...)
}

// Validate checks the settings.
func (f QMPFactory) Validate(settings map[string]any) error {
	_, _, err := f.decode(settings)
	return err
}

// Create builds a qmp action.
func (f QMPFactory) Create(set Settings, settings map[string]any) (Action, error) {
	cfg, tmpl, err := f.decode(settings)
	if err != nil {
		return nil, err
	}
	args := []byte("{}")
	if len(cfg.Arguments) > 0 {
		if args, err = json.Marshal(cfg.Arguments); err != nil {
			return nil, fmt.Errorf("arguments: %w", err)
		}
	}
	op := &qmpOp{cfg: cfg, socket: tmpl, hasTemplate: cfg.Socket != "", argsJSON: string(args)}
	return remediation{newGuarded(op, cfg.CommonConfig, &set)}, nil
}

type qmpOp struct {
	cfg         QMPConfig
	socket      Template
	hasTemplate bool
	argsJSON    string
}

func (o *qmpOp) target(ev *Event) (Target, error) {
	name := ev.GroupValue(AttrVMName)
	t := Target{VM: name}
	if p, ok := o.cfg.Sockets[name]; ok && name != "" {
		t.Socket = p
	} else if o.hasTemplate {
		p, err := o.socket.Render(groupLookup(ev, nil))
		if err != nil {
			return t, err
		}
		t.Socket = filepath.Clean(p)
	} else {
		return t, Refuse("no monitor socket for %s %q in sockets", AttrVMName, name)
	}
	t.Key = "socket:" + t.Socket
	return t, nil
}

func (o *qmpOp) run(ctx context.Context, t Target, _ *Event, dry bool) (Result, error) {
	res := Result{Detail: o.cfg.Command + " " + o.argsJSON}
	if dry {
		return res, nil
	}
	ret, err := qmpExecute(ctx, t.Socket, o.cfg.Command, o.cfg.Arguments)
	if err != nil {
		return res, err
	}
	var reply bytes.Buffer
	if json.Compact(&reply, ret) != nil {
		reply.Reset()
		reply.Write(ret)
	}
	res.Detail += " returned " + truncate(reply.String(), qmpReplyMax)
	return res, nil
}

// truncate cuts s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "...(truncated)"
}
