package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/vnetpath/vnetpath/internal/qmp"
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

// decode checks the settings and prepares the operation.
func (QMPFactory) decode(settings map[string]any) (*qmpOp, error) {
	o := &qmpOp{cfg: QMPConfig{CommonConfig: remediationDefaults()}, argsJSON: "{}"}
	cfg := &o.cfg
	if err := Decode(settings, cfg); err != nil {
		return nil, err
	}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case cfg.Socket == "" && len(cfg.Sockets) == 0:
		fail("one of socket, sockets is required")
	case cfg.Socket != "":
		tmpl, err := ParseTemplate(cfg.Socket)
		if err != nil {
			fail("socket: %w", err)
		} else if !filepath.IsAbs(cfg.Socket) {
			fail("socket: %q must be an absolute path", cfg.Socket)
		}
		o.socket = &tmpl
	}
	for vm, p := range cfg.Sockets {
		if !filepath.IsAbs(p) {
			fail("sockets.%s: %q must be an absolute path", vm, p)
		}
	}
	if !qmpCommand.MatchString(cfg.Command) {
		fail("command: %q is not a QMP command name (e.g. set_link, query-status)", cfg.Command)
	}
	if len(cfg.Arguments) > 0 {
		if b, err := json.Marshal(cfg.Arguments); err != nil {
			fail("arguments: %w", err)
		} else {
			o.argsJSON = string(b)
		}
	}
	errs = append(errs, cfg.validate())
	return o, errors.Join(errs...)
}

// Validate checks the settings.
func (f QMPFactory) Validate(settings map[string]any) error {
	_, err := f.decode(settings)
	return err
}

// Create builds a qmp action.
func (f QMPFactory) Create(set Settings, settings map[string]any) (Action, error) {
	op, err := f.decode(settings)
	if err != nil {
		return nil, err
	}
	return remediation{newGuarded(op, op.cfg.CommonConfig, &set)}, nil
}

type qmpOp struct {
	cfg      QMPConfig
	socket   *Template // the socket template; nil without one
	argsJSON string    // the arguments, for the result's detail
}

func (o *qmpOp) target(ev *Event) (Target, error) {
	name := ev.GroupValue(AttrVMName)
	t := Target{VM: name}
	if p, ok := o.cfg.Sockets[name]; ok && name != "" {
		t.Socket = p
	} else if o.socket != nil {
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
	ret, err := qmp.Execute(ctx, t.Socket, o.cfg.Command, o.cfg.Arguments)
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
