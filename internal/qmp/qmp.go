// Package qmp runs QEMU Machine Protocol commands on a monitor's unix
// socket: one connection per command, its reply awaited past any events.
package qmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// Error is an error reply of QEMU's monitor.
type Error struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *Error) Error() string { return e.Class + ": " + e.Desc }

// kind says what a monitor message is.
type kind uint8

const (
	greeting kind = iota + 1
	reply
	failure
	event
)

// message is one decoded line from the monitor.
type message struct {
	Kind   kind
	Return json.RawMessage // reply
	Err    *Error          // failure
	Event  string          // event
	ID     string          // the id echoed by a reply or failure, if any
}

// wire is a line's possible members; exactly one of QMP, return, error and
// event is set in a valid message.
type wire struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *Error          `json:"error"`
	Event  *string         `json:"event"`
	ID     json.RawMessage `json:"id"`
}

// decode decodes one line of the monitor's output.
func decode(line []byte) (message, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&w); err != nil {
		return message{}, fmt.Errorf("qmp: bad message: %w", err)
	}
	if dec.More() {
		return message{}, errors.New("qmp: bad message: data after the object")
	}
	var m message
	n := 0
	if len(w.QMP) > 0 {
		m.Kind, n = greeting, n+1
	}
	if len(w.Return) > 0 {
		m.Kind, m.Return, n = reply, w.Return, n+1
	}
	if w.Error != nil {
		if w.Error.Class == "" {
			return message{}, errors.New("qmp: error reply without a class")
		}
		m.Kind, m.Err, n = failure, w.Error, n+1
	}
	if w.Event != nil {
		m.Kind, m.Event, n = event, *w.Event, n+1
	}
	if n != 1 {
		return message{}, fmt.Errorf("qmp: message is not one of greeting, return, error, event: %.80s", line)
	}
	if len(w.ID) > 0 {
		if err := json.Unmarshal(w.ID, &m.ID); err != nil {
			return message{}, fmt.Errorf("qmp: id is not a string: %.40s", w.ID)
		}
	}
	return m, nil
}

// maxLine bounds one monitor message (query replies can be large).
const maxLine = 1 << 20

// ErrConnect wraps a failure to connect to the monitor: nothing was sent.
var ErrConnect = errors.New("qmp: connect")

// Execute connects to the monitor at socket, negotiates capabilities and
// runs one command; it returns the command's return value. args may be
// nil. ctx bounds the whole exchange.
func Execute(ctx context.Context, socket, command string, args map[string]any) (json.RawMessage, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	defer conn.Close()
	// A monitor that stops answering is cut off when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := session{conn: conn, sc: bufio.NewScanner(conn), ctx: ctx}
	c.sc.Buffer(make([]byte, 0, 4096), maxLine)

	hello, err := c.read()
	if err != nil {
		return nil, err
	}
	if hello.Kind != greeting {
		return nil, errors.New("qmp: the monitor did not greet")
	}
	if _, err := c.call("qmp_capabilities", nil, "vnetpath-caps"); err != nil {
		return nil, fmt.Errorf("qmp: capabilities: %w", err)
	}
	return c.call(command, args, "vnetpath-cmd")
}

type session struct {
	conn net.Conn
	sc   *bufio.Scanner
	ctx  context.Context
}

func (c *session) read() (message, error) {
	if !c.sc.Scan() {
		err := c.sc.Err()
		if err == nil {
			err = errors.New("connection closed")
		}
		if c.ctx.Err() != nil { // the deadline set when ctx ended
			err = fmt.Errorf("%w (%v)", c.ctx.Err(), err)
		}
		return message{}, fmt.Errorf("qmp: read: %w", err)
	}
	return decode(c.sc.Bytes())
}

// call sends one command and waits for its reply, skipping events.
func (c *session) call(command string, args map[string]any, id string) (json.RawMessage, error) {
	req := map[string]any{"execute": command, "id": id}
	if len(args) > 0 {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("qmp: encode %s: %w", command, err)
	}
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp: send %s: %w", command, err)
	}
	for {
		m, err := c.read()
		if err != nil {
			return nil, err
		}
		switch {
		case m.Kind == event:
			continue
		case m.ID != id && m.ID != "":
			return nil, fmt.Errorf("qmp: reply to %q while waiting for %q", m.ID, id)
		case m.Kind == failure:
			return nil, fmt.Errorf("qmp %s: %w", command, m.Err)
		case m.Kind == reply:
			return m.Return, nil
		default:
			return nil, fmt.Errorf("qmp: unexpected greeting after %s", command)
		}
	}
}
