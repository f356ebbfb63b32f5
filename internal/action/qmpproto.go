package action

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

// QMPError is an error reply of QEMU's monitor.
type QMPError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *QMPError) Error() string { return e.Class + ": " + e.Desc }

// qmpKind says what a monitor message is.
type qmpKind uint8

const (
	qmpGreeting qmpKind = iota + 1
	qmpReturn
	qmpFailure
	qmpEvent
)

// qmpMessage is one decoded line from the monitor.
type qmpMessage struct {
	Kind   qmpKind
	Return json.RawMessage // qmpReturn
	Err    *QMPError       // qmpFailure
	Event  string          // qmpEvent
	ID     string          // the id echoed by a return or error, if any
}

// qmpWire is a line's possible members; exactly one of QMP, return,
// error and event is set in a valid message.
type qmpWire struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *QMPError       `json:"error"`
	Event  *string         `json:"event"`
	ID     json.RawMessage `json:"id"`
}

// decodeQMP decodes one line of the monitor's output.
func decodeQMP(line []byte) (qmpMessage, error) {
	var w qmpWire
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&w); err != nil {
		return qmpMessage{}, fmt.Errorf("qmp: bad message: %w", err)
	}
	if dec.More() {
		return qmpMessage{}, errors.New("qmp: bad message: data after the object")
	}
	var m qmpMessage
	n := 0
	if len(w.QMP) > 0 {
		m.Kind, n = qmpGreeting, n+1
	}
	if len(w.Return) > 0 {
		m.Kind, m.Return, n = qmpReturn, w.Return, n+1
	}
	if w.Error != nil {
		if w.Error.Class == "" {
			return qmpMessage{}, errors.New("qmp: error reply without a class")
		}
		m.Kind, m.Err, n = qmpFailure, w.Error, n+1
	}
	if w.Event != nil {
		m.Kind, m.Event, n = qmpEvent, *w.Event, n+1
	}
	if n != 1 {
		return qmpMessage{}, fmt.Errorf("qmp: message is not one of greeting, return, error, event: %.80s", line)
	}
	if len(w.ID) > 0 {
		if err := json.Unmarshal(w.ID, &m.ID); err != nil {
			return qmpMessage{}, fmt.Errorf("qmp: id is not a string: %.40s", w.ID)
		}
	}
	return m, nil
}

// qmpMaxLine bounds one monitor message (query replies can be large).
const qmpMaxLine = 1 << 20

// qmpExecute connects to the monitor at socket, negotiates capabilities
// and runs one command; it returns the command's return value. ctx bounds
// the whole exchange.
func qmpExecute(ctx context.Context, socket, command string, args map[string]any) (json.RawMessage, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("qmp: connect: %w", err)
	}
	defer conn.Close()
	// A monitor that stops answering is cut off when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := qmpConn{conn: conn, sc: bufio.NewScanner(conn), ctx: ctx}
	c.sc.Buffer(make([]byte, 0, 4096), qmpMaxLine)

	greeting, err := c.read()
	if err != nil {
		return nil, err
	}
	if greeting.Kind != qmpGreeting {
		return nil, errors.New("qmp: the monitor did not greet")
	}
	if _, err := c.call("qmp_capabilities", nil, "vnetpath-caps"); err != nil {
		return nil, fmt.Errorf("qmp: capabilities: %w", err)
	}
	return c.call(command, args, "vnetpath-cmd")
}

type qmpConn struct {
	conn net.Conn
	sc   *bufio.Scanner
	ctx  context.Context
}

func (c *qmpConn) read() (qmpMessage, error) {
	if !c.sc.Scan() {
		err := c.sc.Err()
		if err == nil {
			err = errors.New("connection closed")
		}
		if c.ctx.Err() != nil { // the deadline set when ctx ended
			err = fmt.Errorf("%w (%v)", c.ctx.Err(), err)
		}
		return qmpMessage{}, fmt.Errorf("qmp: read: %w", err)
	}
	return decodeQMP(c.sc.Bytes())
}

// call sends one command and waits for its reply, skipping events.
func (c *qmpConn) call(command string, args map[string]any, id string) (json.RawMessage, error) {
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
		case m.Kind == qmpEvent:
			continue
		case m.ID != id && m.ID != "":
			return nil, fmt.Errorf("qmp: reply to %q while waiting for %q", m.ID, id)
		case m.Kind == qmpFailure:
			return nil, fmt.Errorf("qmp %s: %w", command, m.Err)
		case m.Kind == qmpReturn:
			return m.Return, nil
		default:
			return nil, fmt.Errorf("qmp: unexpected greeting after %s", command)
		}
	}
}
